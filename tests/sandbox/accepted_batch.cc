#include "tests/sandbox/accepted_batch.h"

// x86-64 always has SSE2; RapidJSON then scans strings 16 bytes at a time.
// Not under AddressSanitizer: those aligned loads may read past the end of
// the text (never past its 16-byte block, so never into an unmapped page),
// which ASan reports.
#if defined(__SANITIZE_ADDRESS__)
#define CONVERSIONS_SANDBOX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CONVERSIONS_SANDBOX_ASAN 1
#endif
#endif
#if defined(__SSE2__) && !defined(RAPIDJSON_SSE2) && \
    !defined(CONVERSIONS_SANDBOX_ASAN)
#define RAPIDJSON_SSE2
#endif
#include <rapidjson/document.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "tests/sandbox/event_rules.h"
#include "tests/sandbox/request_validator.h"

namespace conversions::sandbox {
namespace {

using Value = rapidjson::Value;

// No kParseValidateEncodingFlag: that check runs a byte at a time and turns
// off RapidJSON's SSE2 string scan, so ReadsAlike() checks the encoding of
// the whole body up front instead. Full precision: parse decimals exactly,
// as nlohmann's strtod does, instead of to within a few ulp.
constexpr unsigned kParseFlags =
    rapidjson::kParseInsituFlag | rapidjson::kParseFullPrecisionFlag;
// Nesting deeper than this goes to the full path, whose parser needs no
// stack per level; RapidJSON's recursive one does.
constexpr int kMaxDepth = 256;

// True if every byte sequence in `text` is well-formed UTF-8 (RFC 3629: no
// overlong forms, surrogates or code points above U+10FFFF), as nlohmann
// requires inside strings, and `text` has no NUL byte. Non-ASCII bytes
// outside strings are a parse error for both parsers, so checking the whole
// text instead of the strings only changes no outcome.
bool IsUtf8WithoutNul(absl::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    if (n - i >= 8) {
      uint64_t word;
      std::memcpy(&word, p + i, sizeof(word));
      if ((word & 0x8080808080808080ULL) == 0) {
        // Eight ASCII bytes; a zero one among them?
        if (((word - 0x0101010101010101ULL) & ~word & 0x8080808080808080ULL) !=
            0) {
          return false;
        }
        i += 8;
        continue;
      }
    }
    const unsigned char c = p[i];
    if (c < 0x80) {
      if (c == 0) return false;
      ++i;
      continue;
    }
    size_t length = 0;
    unsigned char low = 0x80;  // bounds of the second byte
    unsigned char high = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) low = 0xA0;   // overlong
      if (c == 0xED) high = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) low = 0x90;   // overlong
      if (c == 0xF4) high = 0x8F;  // above U+10FFFF
    } else {
      return false;
    }
    if (n - i < length || p[i + 1] < low || p[i + 1] > high) return false;
    for (size_t k = 2; k < length; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return false;
    }
    i += length;
  }
  return true;
}

// True if RapidJSON (with kParseFlags) and nlohmann read `body` alike, as
// far as a cheap scan can tell: well-formed UTF-8 and no NUL byte (where
// RapidJSON would stop reading), no byte order mark (nlohmann skips one),
// and no \uDC00-\uDFFF escape without a high surrogate escape just before
// it (RapidJSON 1.1 accepts one). Conservative: a backslash pair outside a
// string, a parse error anyway, may be misread.
bool ReadsAlike(absl::string_view body) {
  if (body.substr(0, 3) == "\xEF\xBB\xBF") return false;
  if (!IsUtf8WithoutNul(body)) return false;
  const char* p = body.data();
  const char* const end = body.data() + body.size();
  const char* high_surrogate_end = nullptr;
  while ((p = static_cast<const char*>(
              std::memchr(p, '\\', static_cast<size_t>(end - p)))) != nullptr) {
    if (end - p >= 6 && p[1] == 'u' && (p[2] == 'd' || p[2] == 'D')) {
      const char c = absl::ascii_tolower(static_cast<unsigned char>(p[3]));
      const bool high = c == '8' || c == '9' || c == 'a' || c == 'b';
      const bool low = c == 'c' || c == 'd' || c == 'e' || c == 'f';
      if (low && p != high_surrogate_end) return false;
      if (high) high_surrogate_end = p + 6;
    }
    // Skip the escaped character too, so "\\u" is not read as an escape.
    p += 2;
    if (p >= end) break;
  }
  return true;
}

// Passes SAX events on to a Document, failing the parse beyond kMaxDepth
// nested arrays and objects.
class DepthLimitedHandler {
 public:
  explicit DepthLimitedHandler(rapidjson::Document& document)
      : document_(document) {}

  bool Null() { return document_.Null(); }
  bool Bool(bool b) { return document_.Bool(b); }
  bool Int(int i) { return document_.Int(i); }
  bool Uint(unsigned u) { return document_.Uint(u); }
  bool Int64(int64_t i) { return document_.Int64(i); }
  bool Uint64(uint64_t u) { return document_.Uint64(u); }
  bool Double(double d) { return document_.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType length, bool copy) {
    return document_.RawNumber(s, length, copy);
  }
  bool String(const char* s, rapidjson::SizeType length, bool copy) {
    return document_.String(s, length, copy);
  }
  bool Key(const char* s, rapidjson::SizeType length, bool copy) {
    return document_.Key(s, length, copy);
  }
  bool StartObject() {
    return ++depth_ <= kMaxDepth && document_.StartObject();
  }
  bool EndObject(rapidjson::SizeType members) {
    --depth_;
    return document_.EndObject(members);
  }
  bool StartArray() { return ++depth_ <= kMaxDepth && document_.StartArray(); }
  bool EndArray(rapidjson::SizeType elements) {
    --depth_;
    return document_.EndArray(elements);
  }

 private:
  rapidjson::Document& document_;
  int depth_ = 0;
};

absl::string_view Str(const Value& value) {
  return absl::string_view(value.GetString(), value.GetStringLength());
}

bool IsString(const Value* value, bool non_empty) {
  return value->IsString() && (!non_empty || value->GetStringLength() > 0);
}

bool IsNonNegativeInt64(const Value& value) {
  return value.IsInt64() && value.GetInt64() >= 0;
}

bool IsCurrency(const Value& value) {
  return value.IsString() && IsKnownCurrency(Str(value));
}

// Points `*slot` at `value`; false if it already points somewhere (a
// repeated key, where nlohmann keeps the last value and FindMember would
// find the first).
bool Fill(const Value** slot, const Value& value) {
  if (*slot != nullptr) return false;
  *slot = &value;
  return true;
}

// Checks one request body, stopping at the first broken rule. Mirrors
// request_validator.cc's Validator rule by rule; it needs no paths or
// messages, only the verdict.
class FastValidator {
 public:
  explicit FastValidator(int64_t now_ms) : now_ms_(now_ms) {}

  bool CheckBody(const Value& body, AcceptedBatch& batch) {
    if (!body.IsObject()) return false;
    const Value* events = nullptr;
    const Value* validate_only = nullptr;
    const Value* integration_source = nullptr;
    for (auto m = body.MemberBegin(); m != body.MemberEnd(); ++m) {
      const absl::string_view key = Str(m->name);
      const Value** slot = key == "events"               ? &events
                           : key == "validate_only"      ? &validate_only
                           : key == "integration_source" ? &integration_source
                                                         : nullptr;
      if (slot == nullptr || !Fill(slot, m->value)) return false;
    }
    if (validate_only != nullptr) {
      if (!validate_only->IsBool()) return false;
      batch.validate_only = validate_only->GetBool();
    }
    if (integration_source != nullptr &&
        (!integration_source->IsString() ||
         !IsValidIntegrationSource(absl::AsciiStrToLower(
             absl::StripAsciiWhitespace(Str(*integration_source)))))) {
      return false;
    }
    if (events == nullptr || !events->IsArray() || events->Empty() ||
        events->Size() > kMaxEventsPerBatch) {
      return false;
    }
    batch.events.resize(events->Size());
    for (rapidjson::SizeType i = 0; i < events->Size(); ++i) {
      if (!CheckEvent((*events)[i], batch.events[i])) return false;
    }
    return true;
  }

 private:
  // Fills `out.name` and `out.id`.
  bool CheckEvent(const Value& event, AcceptedEvent& out) {
    if (!event.IsObject()) return false;
    const Value* id = nullptr;
    const Value* type = nullptr;
    const Value* timestamp = nullptr;
    const Value* custom_name = nullptr;
    const Value* oppref = nullptr;
    const Value* source_url = nullptr;
    const Value* action_source = nullptr;
    const Value* user = nullptr;
    const Value* opt_out = nullptr;
    const Value* data = nullptr;
    for (auto m = event.MemberBegin(); m != event.MemberEnd(); ++m) {
      const absl::string_view key = Str(m->name);
      const Value** slot = nullptr;
      if (key == "id") {
        slot = &id;
      } else if (key == "type") {
        slot = &type;
      } else if (key == "timestamp_ms") {
        slot = &timestamp;
      } else if (key == "custom_event_name") {
        slot = &custom_name;
      } else if (key == "oppref") {
        slot = &oppref;
      } else if (key == "source_url") {
        slot = &source_url;
      } else if (key == "action_source") {
        slot = &action_source;
      } else if (key == "user") {
        slot = &user;
      } else if (key == "opt_out") {
        slot = &opt_out;
      } else if (key == "data") {
        slot = &data;
      }
      if (slot == nullptr || !Fill(slot, m->value)) return false;
    }

    if (id == nullptr || !IsString(id, /*non_empty=*/true)) return false;
    if (type == nullptr || !type->IsString()) return false;
    const EventTypeInfo* info = FindEventType(Str(*type));
    if (info == nullptr) return false;
    if (timestamp == nullptr || !timestamp->IsInt64()) return false;
    const int64_t ts = timestamp->GetInt64();
    if (ts < now_ms_ - kMaxEventAgeMs || ts > now_ms_ + kMaxFutureSkewMs) {
      return false;
    }

    // custom_event_name: required for, and only for, custom events.
    const bool is_custom = info->type == "custom";
    if (custom_name != nullptr) {
      if (!is_custom || !custom_name->IsString() ||
          !IsValidCustomEventName(Str(*custom_name))) {
        return false;
      }
      out.name = absl::AsciiStrToLower(Str(*custom_name));
      if (FindEventType(out.name) != nullptr) return false;
    } else if (is_custom) {
      return false;
    } else {
      out.name = std::string(info->type);
    }

    if (oppref != nullptr && !oppref->IsString()) return false;

    absl::string_view source;
    if (action_source != nullptr) {
      if (!IsString(action_source, /*non_empty=*/true)) return false;
      source = Str(*action_source);
      if (!Contains(kActionSources, source)) return false;
    }
    if ((info->type == "app_installed" || info->type == "app_opened") &&
        source != "mobile_app") {
      return false;
    }
    if (source_url != nullptr) {
      if (!IsString(source_url, /*non_empty=*/true) ||
          !(source == "web" ? IsAbsoluteHttpUrl(Str(*source_url))
                            : IsAbsoluteUrlWithHost(Str(*source_url)))) {
        return false;
      }
    } else if (source == "web") {
      return false;
    }

    if (opt_out != nullptr && !opt_out->IsBool()) return false;
    if (user != nullptr && !CheckUser(*user)) return false;
    if (data == nullptr || !CheckData(*data, *info)) return false;

    out.id = std::string(Str(*id));
    return true;
  }

  static bool CheckStringList(const Value& value, bool hashed) {
    if (!value.IsArray()) return false;
    for (const Value& item : value.GetArray()) {
      if (!item.IsString() || (hashed && !IsLowerHexSha256(Str(item)))) {
        return false;
      }
    }
    return true;
  }

  // Every member is checked on its own, so a repeated key passes only if
  // each copy does, whichever copy nlohmann keeps.
  static bool CheckUser(const Value& user) {
    if (!user.IsObject()) return false;
    for (auto m = user.MemberBegin(); m != user.MemberEnd(); ++m) {
      const absl::string_view key = Str(m->name);
      const Value& value = m->value;
      if (Contains(kHashedUserLists, key)) {
        if (!CheckStringList(value, /*hashed=*/true)) return false;
      } else if (Contains(kRawUserLists, key)) {
        if (!CheckStringList(value, /*hashed=*/false)) return false;
      } else if (Contains(kRawUserScalars, key)) {
        if (!value.IsString()) return false;
        // obref must be non-blank, user_agent non-empty, ip_address an
        // address and android_advertising_id a UUID (spec 5a).
        if ((key == "obref" || key == "user_agent") &&
            absl::StripAsciiWhitespace(Str(value)).empty()) {
          return false;
        }
        if ((key == "ip_address" && !IsIpAddress(Str(value))) ||
            (key == "android_advertising_id" && !IsAdvertisingId(Str(value)))) {
          return false;
        }
      } else {
        // Clear-text identifiers and unknown fields.
        return false;
      }
    }
    return true;
  }

  static bool CheckData(const Value& data, const EventTypeInfo& event_type) {
    if (!data.IsObject()) return false;
    // With a valid event type, data.type must equal its shape, so that is
    // the shape whose rules apply.
    const absl::string_view shape = event_type.data_type;
    const Value* type = nullptr;
    const Value* amount = nullptr;
    const Value* currency = nullptr;
    const Value* contents = nullptr;
    const Value* plan_id = nullptr;
    for (auto m = data.MemberBegin(); m != data.MemberEnd(); ++m) {
      const absl::string_view key = Str(m->name);
      const Value** slot = key == "type"       ? &type
                           : key == "amount"   ? &amount
                           : key == "currency" ? &currency
                           : key == "contents" ? &contents
                           : key == "plan_id"  ? &plan_id
                                               : nullptr;
      if (slot == nullptr) {
        // Free-form properties are for custom data only; their values are
        // not checked, so a repeated one is harmless.
        if (shape != "custom") return false;
      } else if (!Fill(slot, m->value)) {
        return false;
      }
    }
    if (type == nullptr || !type->IsString() || Str(*type) != shape) {
      return false;
    }
    if (amount != nullptr && !IsNonNegativeInt64(*amount)) return false;
    if (currency != nullptr && !IsCurrency(*currency)) return false;
    if (contents != nullptr &&
        (shape == "customer_action" ||
         !CheckContents(*contents, currency != nullptr))) {
      return false;
    }
    if (plan_id != nullptr &&
        ((shape != "plan_enrollment" && shape != "custom") ||
         !IsString(plan_id, /*non_empty=*/true))) {
      return false;
    }
    return amount == nullptr || currency != nullptr;
  }

  static bool CheckContents(const Value& contents, bool has_event_currency) {
    if (!contents.IsArray()) return false;
    for (const Value& content : contents.GetArray()) {
      if (!content.IsObject()) return false;
      bool has_amount = false;
      bool has_currency = false;
      for (auto m = content.MemberBegin(); m != content.MemberEnd(); ++m) {
        const absl::string_view key = Str(m->name);
        const Value& value = m->value;
        if (key == "quantity") {
          if (!value.IsInt64() || value.GetInt64() <= 0) return false;
        } else if (key == "amount") {
          if (!IsNonNegativeInt64(value)) return false;
          has_amount = true;
        } else if (key == "currency") {
          if (!IsCurrency(value)) return false;
          has_currency = true;
        } else if (key == "variant_dict") {
          if (!value.IsObject()) return false;
          for (auto v = value.MemberBegin(); v != value.MemberEnd(); ++v) {
            if (!v->value.IsString()) return false;
          }
        } else if (key == "content_type") {
          if (!IsString(&value, /*non_empty=*/true)) return false;
        } else if (key == "id" || key == "group_id" || key == "name") {
          if (!value.IsString()) return false;
        } else {
          return false;
        }
      }
      if (has_amount && !has_currency && !has_event_currency) return false;
    }
    return true;
  }

  const int64_t now_ms_;
};

// The tree pool a BatchParser starts with and the most it keeps between
// calls, and the largest body copy it keeps: a 1,000-event batch of ~1 KB
// events needs about 1 MB of each.
constexpr size_t kInitialNodeBytes = 1 << 20;
constexpr size_t kMaxNodeBytes = 16 << 20;
constexpr size_t kMaxKeptTextBytes = 16 << 20;

// ParseAcceptedBatch on `text`, which it parses (and so overwrites) in
// place, with the tree's nodes in `pool`.
std::optional<AcceptedBatch> ParseInPlace(
    std::string& text, int64_t now_ms, bool with_json,
    rapidjson::MemoryPoolAllocator<>& pool) {
  rapidjson::Document document(&pool);
  bool parsed = false;
  auto parse = [&text, &parsed](rapidjson::Document& handler) {
    DepthLimitedHandler limited(handler);
    rapidjson::InsituStringStream stream(text.data());
    rapidjson::Reader reader;
    parsed = !reader.Parse<kParseFlags>(stream, limited).IsError();
    return parsed;
  };
  document.Populate(parse);
  if (!parsed) return std::nullopt;

  AcceptedBatch batch;
  if (!FastValidator(now_ms).CheckBody(document, batch)) return std::nullopt;
  if (!with_json) return batch;

  const Value& events = document["events"];
  rapidjson::StringBuffer buffer;
  // Not Writer<StringBuffer>: with RAPIDJSON_SSE2, RapidJSON 1.1.0's SIMD
  // scan for that type leaves 0x1A - 0x1F unescaped (it compares with 0x19,
  // fixed upstream after 1.1.0), and the recorded event would not parse.
  // Another stack allocator selects the generic, byte-wise writer.
  rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>,
                    rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>>
      writer;
  for (rapidjson::SizeType i = 0; i < events.Size(); ++i) {
    buffer.Clear();
    writer.Reset(buffer);
    events[i].Accept(writer);
    batch.events[i].json.assign(buffer.GetString(), buffer.GetSize());
  }
  return batch;
}

}  // namespace

std::optional<AcceptedBatch> ParseAcceptedBatch(absl::string_view body,
                                                int64_t now_ms,
                                                bool with_json) {
  return BatchParser().Parse(body, now_ms, with_json);
}

std::optional<AcceptedBatch> BatchParser::Parse(absl::string_view body,
                                                int64_t now_ms,
                                                bool with_json) {
  if (!ReadsAlike(body)) return std::nullopt;
  // Parsed in place: strings stay in this copy instead of being copied into
  // the document.
  text_.assign(body.data(), body.size());
  if (nodes_.empty()) nodes_.resize(kInitialNodeBytes);
  std::optional<AcceptedBatch> batch;
  size_t pool_used = 0;
  {
    // Declared before the document, which allocates from it; gone before
    // nodes_ may be resized.
    rapidjson::MemoryPoolAllocator<> pool(nodes_.data(), nodes_.size());
    batch = ParseInPlace(text_, now_ms, with_json, pool);
    pool_used = pool.Size();
  }
  // A tree that outgrew the pool spilled into malloc'ed chunks; size the
  // pool for it next time (within bounds).
  if (pool_used > nodes_.size() && pool_used <= kMaxNodeBytes) {
    nodes_.resize(pool_used + pool_used / 8);
  }
  if (text_.capacity() > kMaxKeptTextBytes) std::string().swap(text_);
  return batch;
}

}  // namespace conversions::sandbox