// The class of the mapper core (event_mapper_core.h), Mapper<Event>: its
// state, its entry point Run(), and the declarations of its other members,
// which event_mapper_core_checks.h, event_mapper_core_user.h and
// event_mapper_core_encode.h define. They are defined out of the class and
// declared `inline`, as they were implicitly when defined in it: GCC's
// inliner gives declared-inline functions a larger budget. Internal to the
// mapping library: include event_mapper.h or event_view.h instead.
#ifndef CONVERSIONS_MAPPING_EVENT_MAPPER_CORE_MAPPER_H_
#define CONVERSIONS_MAPPING_EVENT_MAPPER_CORE_MAPPER_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "conversions/v1/event.pb.h"
#include "google/protobuf/struct.pb.h"
#include "mapping/event_mapper.h"
#include "mapping/event_mapper_core_support.h"
#include "mapping/event_types.h"
#include "mapping/json_writer.h"
#include "mapping/sha256.h"

namespace conversions::mapping {
namespace internal::core {

// The mapper core, over a v1::Event or an internal::EventView: both have
// the same accessors, and only the typed event has the fields the tag model
// lacks (content group ids and variants, custom properties).
template <typename Event>
class Mapper {
  static constexpr bool kTyped = std::is_same_v<Event, v1::Event>;

 public:
  Mapper(const Event& event, std::int64_t now_ms, MappedEvent* result)
      : event_(event),
        now_ms_(now_ms),
        result_(result),
        scratch_(result->scratch) {}

  void Run() {
    CheckEnvelopeFields();
    MapUser(event_.user());
    CheckData(event_.data());
    CheckNoEmailsInClear(event_.data());
    if (!result_->violations.empty()) return;
    Encode();
    if (result_->wire_json.size() > Limits::kEventWireBytes) ReportOversized();
  }

 private:
  void Violation(std::string field, const char* reason,
                 std::string description) {
    result_->violations.push_back(
        {std::move(field), reason, std::move(description)});
  }
  void Warning(std::string field, const char* reason, std::string description) {
    result_->warnings.push_back(
        {std::move(field), reason, std::move(description)});
  }

  // Validation: event_mapper_core_checks.h.
  bool CheckText(std::string_view value, Path path, size_t max_bytes);
  void ReportText(std::string_view value, std::string_view path_base,
                  int path_index, std::string_view path_leaf, size_t max_bytes);
  void CheckEnvelopeFields();
  bool CheckCurrency(std::string_view in, Path path);
  void ReportCutName(int i);
  void ReportCurrency(Path path, std::string_view in);
  [[gnu::cold]] void ReportRedactedUrl();
  [[gnu::cold]] void ReportUnsafeInteger(Path path);
  void CheckValueText(std::string_view value, Path path, size_t max_bytes);
  [[gnu::cold]] void ReportBlank(Path path);
  [[gnu::cold]] void ReportEmailInClear(Path path);
  template <typename Data>
  void CheckData(const Data& d);
  template <typename Content>
  void CheckContent(const Content& c, int i, bool no_event_currency);
  void CheckVariant(const v1::Content& c, int i);
  void CheckCustomProperties(const google::protobuf::Struct& s);
  bool IsClearIdentifierProperty(const std::string& key,
                                 const std::string& value);
  bool CheckValueTree(const google::protobuf::Struct& s, std::string_view path,
                      int depth);
  bool CheckValue(const google::protobuf::Value& v, const std::string& path,
                  int depth);

  // The user object: event_mapper_core_user.h.
  template <typename List>
  void MapHashedList(const List& clear, std::string_view clear_field,
                     Normalizer normalize, const List& hashed,
                     std::string_view hashed_field, HashedList* out);
  template <typename List>
  void MapHashedValues(const List& clear, int clear_size,
                       std::string_view clear_field, Normalizer normalize,
                       const List& hashed, int hashed_size,
                       std::string_view hashed_field, HashedList* out);
  void AddDigest(const Sha256HexDigest& digest, std::string_view field, int i,
                 HashedList* out);
  void EmptyDigest(std::string_view field, int i);
  int ReadListSize(int size, std::string_view field);
  void TooMany(std::string_view field, int size);
  template <typename List>
  void MapRawList(const List& in, std::string_view field, Normalizer normalize,
                  size_t max_chars, bool fold_case, RawList* out);
  template <typename List>
  void MapRawValues(const List& in, int size, std::string_view field,
                    Normalizer normalize, size_t max_chars, bool fold_case,
                    RawList* out);
  std::string_view RawScalar(std::string_view value, std::string_view field,
                             size_t max_bytes);
  void DropRawScalar(std::string_view value, std::string_view field,
                     size_t max_bytes);
  void DropEmailInClear(std::string_view* value, const char* field,
                        const char* what);
  // Whether `value`, a field sent in clear, is an email address. Most
  // values have no '@', and that test is all that is inlined.
  bool IsEmailInClear(std::string_view value) {
    // (memchr must not see the null pointer of an empty view.)
    return !value.empty() &&
           std::memchr(value.data(), '@', value.size()) != nullptr &&
           IsEmailAddress(value);
  }
  [[gnu::cold, gnu::noinline]] bool IsEmailAddress(std::string_view value) {
    return NormalizeEmail(value, &scratch_).kept();
  }
  [[gnu::cold]] void ReportIdIsEmail();
  template <typename Data>
  [[gnu::noinline]] void CheckNoEmailsInClear(const Data& d);
  template <typename User>
  void MapUser(const User& u);
  void MapScalar(std::string_view value, std::string_view field,
                 Normalizer normalize, std::string* out);

  // The wire JSON: event_mapper_core_encode.h.
  template <size_t N>
  static void WriteHashed(const char (&key)[N], const HashedList& list,
                          JsonFragmentWriter* w);
  template <size_t N>
  static void WriteRaw(const char (&key)[N], const RawList& list,
                       JsonFragmentWriter* w);
  template <size_t N>
  static void WriteOptional(const char (&key)[N], std::string_view value,
                            JsonFragmentWriter* w);
  static void WriteCurrency(std::string_view currency, JsonFragmentWriter* w);
  void Encode();
  [[gnu::cold]] void ReportOversized();

  const Event& event_;
  const std::int64_t now_ms_;
  MappedEvent* const result_;

  std::string_view type_name_;
  std::string_view action_source_name_;
  std::int64_t timestamp_ms_ = 0;
  std::string custom_name_;
  std::string_view oppref_;      // the event's, unless an email address
  std::string_view source_url_;  // the event's, or redacted_url_
  std::string redacted_url_;
  DataType data_type_ = DataType::kCustom;
  UserOut user_;
  std::string& scratch_;
};

}  // namespace internal::core
}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_EVENT_MAPPER_CORE_MAPPER_H_
