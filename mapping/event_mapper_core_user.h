// Mapper's user object (event_mapper_core_mapper.h): normalizes and hashes
// the identifier lists (emails, phone numbers, external ids, names) and their
// pre-hashed twins, validates the location lists and the scalars, and keeps
// the first 3 valid unique values of each list, with a warning for each value
// dropped. Internal to the mapping library: include event_mapper.h or
// event_view.h instead.
#ifndef CONVERSIONS_MAPPING_EVENT_MAPPER_CORE_USER_H_
#define CONVERSIONS_MAPPING_EVENT_MAPPER_CORE_USER_H_

#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "mapping/event_mapper.h"
#include "mapping/event_mapper_core_mapper.h"
#include "mapping/event_mapper_core_support.h"
#include "mapping/normalize.h"
#include "mapping/sha256.h"
#include "mapping/unicode.h"

namespace conversions::mapping {
namespace internal::core {

// Normalizes and hashes one identifier kind: clear values first, then the
// pre-hashed twins, keeping the first 3 valid unique digests.
template <typename Event>
template <typename List>
inline void Mapper<Event>::MapHashedList(
    const List& clear, std::string_view clear_field, Normalizer normalize,
    const List& hashed, std::string_view hashed_field, HashedList* out) {
  // size() is a call into libprotobuf, and most kinds are empty: they
  // return here, inline, before the stack frame of the loops.
  const int clear_size = clear.size();
  const int hashed_size = hashed.size();
  if (clear_size == 0 && hashed_size == 0) return;
  MapHashedValues(clear, clear_size, clear_field, normalize, hashed,
                  hashed_size, hashed_field, out);
}

template <typename Event>
template <typename List>
inline void Mapper<Event>::MapHashedValues(const List& clear, int clear_size,
                                           std::string_view clear_field,
                                           Normalizer normalize,
                                           const List& hashed, int hashed_size,
                                           std::string_view hashed_field,
                                           HashedList* out) {
  clear_size = ReadListSize(clear_size, clear_field);
  hashed_size = ReadListSize(hashed_size, hashed_field);
  for (int i = 0; i < clear_size; ++i) {
    // Trimmed as the normalizers trim (Unicode white space, e.g. NBSP),
    // so a padded digest is recognised whatever the padding. A value
    // shorter than a digest's 64 characters cannot be one: no trim.
    const std::string_view raw = clear[i];
    std::string_view value =
        raw.size() >= 64 ? TrimWhitespace(raw) : std::string_view();
    Sha256HexDigest digest;
    if (IsSha256Hex(value)) {
      digest = LowerHex(value);  // already hashed: pass through
      if (IsEmptyStringDigest(digest)) {
        EmptyDigest(clear_field, i);
        continue;
      }
    } else {
      DropReason drop = normalize(raw, &scratch_);
      if (!drop.kept()) {
        Warning(absl::StrCat(Sv(clear_field), "[", i, "]"), drop.code,
                DescribeDrop(raw, drop));
        continue;
      }
      digest = Sha256Hex(scratch_);
    }
    AddDigest(digest, clear_field, i, out);
  }
  for (int i = 0; i < hashed_size; ++i) {
    std::string_view value = TrimWhitespace(hashed[i]);
    if (!IsSha256Hex(value)) {
      if (value.empty()) {
        Warning(absl::StrCat(Sv(hashed_field), "[", i, "]"), kDroppedEmpty,
                "value is empty");
      } else {
        Warning(absl::StrCat(Sv(hashed_field), "[", i, "]"), kDroppedInvalid,
                "value is not a SHA-256 digest (64 hex characters)");
      }
      continue;
    }
    const Sha256HexDigest digest = LowerHex(value);
    if (IsEmptyStringDigest(digest)) {
      EmptyDigest(hashed_field, i);
      continue;
    }
    AddDigest(digest, hashed_field, i, out);
  }
}

// A pre-hashed value that is the SHA-256 of "" stands for no value (a
// caller hashed a missing field): dropped as an empty value is (spec 5c:
// do not send an empty hash). Out of line so that its check inlines.
template <typename Event>
inline void Mapper<Event>::EmptyDigest(std::string_view field, int i) {
  Warning(absl::StrCat(Sv(field), "[", i, "]"), kDroppedEmpty,
          "value is the SHA-256 of an empty string");
}

template <typename Event>
inline void Mapper<Event>::AddDigest(const Sha256HexDigest& digest,
                                     std::string_view field, int i,
                                     HashedList* out) {
  if (out->Contains(digest)) {
    Warning(absl::StrCat(Sv(field), "[", i, "]"), kDroppedDuplicate,
            "value equals an earlier one after normalization");
  } else if (out->size == Limits::kUserListValues) {
    Warning(absl::StrCat(Sv(field), "[", i, "]"), kDroppedOverLimit,
            "the API uses the first 3 valid values of a list; this one was "
            "dropped");
  } else {
    out->values[out->size++] = digest;
  }
}

// Returns how many of a user list's `size` values are read: at most
// kUserListInputs, which bounds the work of one list. The API would still
// use a valid value past them (it takes the first 3 valid ones, spec 5a),
// so the limit is far beyond any real list; the values past it are not
// read, one warning says so, and the event is not rejected.
template <typename Event>
inline int Mapper<Event>::ReadListSize(int size, std::string_view field) {
  if (static_cast<size_t>(size) <= Limits::kUserListInputs) return size;
  TooMany(field, size);
  return static_cast<int>(Limits::kUserListInputs);
}

// ReadListSize's warning, out of line so that its check inlines.
template <typename Event>
inline void Mapper<Event>::TooMany(std::string_view field, int size) {
  Warning(
      std::string(field), kDroppedOverLimit,
      absl::StrCat(Sv(field), " has ", size, " values; the values after the ",
                   Limits::kUserListInputs, "th were not read"));
}

// Validates one raw location kind and keeps the first 3 unique values;
// with `fold_case`, unique once lower-cased (the API lower-cases regions and
// cities, spec 5a, so "CA" and "ca" are one value to it).
template <typename Event>
template <typename List>
inline void Mapper<Event>::MapRawList(const List& in, std::string_view field,
                                      Normalizer normalize, size_t max_chars,
                                      bool fold_case, RawList* out) {
  // As in MapHashedList: most lists are empty.
  const int size = in.size();
  if (size > 0) {
    MapRawValues(in, size, field, normalize, max_chars, fold_case, out);
  }
}

template <typename Event>
template <typename List>
inline void Mapper<Event>::MapRawValues(const List& in, int size,
                                        std::string_view field,
                                        Normalizer normalize, size_t max_chars,
                                        bool fold_case, RawList* out) {
  std::string folded;
  size = ReadListSize(size, field);
  for (int i = 0; i < size; ++i) {
    DropReason drop = normalize(in[i], &scratch_);
    if (!drop.kept()) {
      Warning(absl::StrCat(Sv(field), "[", i, "]"), drop.code,
              drop.description);
      continue;
    }
    if (max_chars != 0 && CodePointCount(scratch_) > max_chars) {
      scratch_.resize(TruncateCodePoints(scratch_, max_chars).size());
      Warning(absl::StrCat(Sv(field), "[", i, "]"), kTruncated,
              absl::StrCat("value was cut to ", max_chars, " characters"));
    }
    std::string_view key = scratch_;
    if (fold_case && LowerCase(scratch_, &folded)) key = folded;
    if (out->ContainsKey(key)) {
      Warning(absl::StrCat(Sv(field), "[", i, "]"), kDroppedDuplicate,
              fold_case ? "value equals an earlier one once lower-cased, as "
                          "the API compares them"
                        : "value equals an earlier one after normalization");
    } else if (out->size == Limits::kUserListValues) {
      Warning(absl::StrCat(Sv(field), "[", i, "]"), kDroppedOverLimit,
              "the API uses the first 3 valid values of a list; this one "
              "was dropped");
    } else {
      out->keys[out->size] = key;
      out->values[out->size++] = scratch_;
    }
  }
}

// Validates a raw scalar that is sent unchanged (trimmed of nothing).
template <typename Event>
inline std::string_view Mapper<Event>::RawScalar(std::string_view value,
                                                 std::string_view field,
                                                 size_t max_bytes) {
  if (value.empty()) return {};
  // Inline when the value passes; the warnings are built out of line.
  if (value.size() <= max_bytes && IsValidUtf8(value) &&
      !TrimWhitespace(value).empty()) {
    return value;
  }
  DropRawScalar(value, field, max_bytes);
  return {};
}

// Records why RawScalar dropped `value`.
template <typename Event>
inline void Mapper<Event>::DropRawScalar(std::string_view value,
                                         std::string_view field,
                                         size_t max_bytes) {
  if (!IsValidUtf8(value)) {
    Warning(std::string(field), kDroppedInvalid, "value is not valid UTF-8");
  } else if (TrimWhitespace(value).empty()) {
    Warning(std::string(field), kDroppedEmpty, "value is blank");
  } else {
    Warning(std::string(field), kDroppedInvalid,
            absl::StrCat("value is longer than ", max_bytes, " bytes"));
  }
}

template <typename Event>
template <typename User>
inline void Mapper<Event>::MapUser(const User& u) {
  MapHashedList(u.emails(), "user.emails", NormalizeEmail, u.emails_sha256(),
                "user.emails_sha256", &user_.emails);
  MapHashedList(u.phone_numbers(), "user.phone_numbers", NormalizePhone,
                u.phone_numbers_sha256(), "user.phone_numbers_sha256",
                &user_.phone_numbers);
  MapHashedList(u.external_ids(), "user.external_ids", NormalizeExternalId,
                u.external_ids_sha256(), "user.external_ids_sha256",
                &user_.external_ids);
  MapHashedList(u.first_names(), "user.first_names", NormalizeName,
                u.first_names_sha256(), "user.first_names_sha256",
                &user_.first_names);
  MapHashedList(u.last_names(), "user.last_names", NormalizeName,
                u.last_names_sha256(), "user.last_names_sha256",
                &user_.last_names);
  MapRawList(u.regions(), "user.regions", NormalizeLocation,
             Limits::kLocationChars, /*fold_case=*/true, &user_.regions);
  MapRawList(u.postal_codes(), "user.postal_codes", NormalizePostalCode, 0,
             /*fold_case=*/false, &user_.postal_codes);
  MapRawList(u.cities(), "user.cities", NormalizeLocation,
             Limits::kLocationChars, /*fold_case=*/true, &user_.cities);
  MapRawList(u.countries(), "user.countries", NormalizeCountry, 0,
             /*fold_case=*/false, &user_.countries);
  MapScalar(u.android_advertising_id(), "user.android_advertising_id",
            NormalizeAdvertisingId, &user_.android_advertising_id);
  MapScalar(u.ip_address(), "user.ip_address", NormalizeIpAddress,
            &user_.ip_address);
  user_.obref = RawScalar(u.obref(), "user.obref", Limits::kObrefBytes);
  user_.user_agent =
      RawScalar(u.user_agent(), "user.user_agent", Limits::kUserAgentBytes);
  // Sent in clear: one that is an email address is a caller's mix-up that
  // must not reach the spool or the API.
  if (user_.obref.find('@') != std::string_view::npos) {
    DropEmailInClear(&user_.obref, "user.obref", "an obref cookie");
  }
  if (user_.user_agent.find('@') != std::string_view::npos) {
    DropEmailInClear(&user_.user_agent, "user.user_agent", "a user agent");
  }
}

// Drops `*value`, a field sent in clear, if it is an email address (it
// has an '@'); `what` names what the field holds instead.
template <typename Event>
inline void Mapper<Event>::DropEmailInClear(std::string_view* value,
                                            const char* field,
                                            const char* what) {
  if (!IsEmailInClear(*value)) return;
  *value = {};
  Warning(field, kDroppedInvalid,
          absl::StrCat("value is an email address, not ", what,
                       ": an email address goes in the emails list, which is "
                       "hashed"));
}

template <typename Event>
inline void Mapper<Event>::MapScalar(std::string_view value,
                                     std::string_view field,
                                     Normalizer normalize, std::string* out) {
  if (value.empty()) return;
  DropReason drop = normalize(value, out);
  if (!drop.kept()) {
    out->clear();
    Warning(std::string(field), drop.code, drop.description);
  }
}

}  // namespace internal::core
}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_EVENT_MAPPER_CORE_USER_H_
