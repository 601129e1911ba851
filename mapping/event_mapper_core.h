// The core of MapEvent: validation of every rule, identifier normalization
// and hashing, and the wire JSON, as a template over its input. Internal to
// the mapping library: include event_mapper.h or event_view.h instead.
//
// Mapper<Event> reads a conversions.v1.Event (MapEvent, event_mapper.cc) or
// an internal::EventView (MapEventView, event_view.cc) through the same
// accessors; only the typed event has content group ids and variants and
// custom properties. Each input is instantiated in its own file: together
// in one, the two instantiations share the compiler's inlining budget and
// the typed one comes out a few percent slower.
//
// In parts, each including the parts it needs: event_mapper_core_support.h
// (reasons, name and URL checks, field paths, wire types, Struct writers),
// event_mapper_core_mapper.h (the Mapper class), and the definitions of its
// members: event_mapper_core_checks.h (validation), event_mapper_core_user.h
// (identifier normalization and hashing) and event_mapper_core_encode.h (the
// wire JSON). This header includes them all, and adds ResetResult.
#ifndef CONVERSIONS_MAPPING_EVENT_MAPPER_CORE_H_
#define CONVERSIONS_MAPPING_EVENT_MAPPER_CORE_H_

#include "mapping/event_mapper.h"
#include "mapping/event_mapper_core_checks.h"
#include "mapping/event_mapper_core_encode.h"
#include "mapping/event_mapper_core_mapper.h"
#include "mapping/event_mapper_core_support.h"
#include "mapping/event_mapper_core_user.h"

namespace conversions::mapping {
namespace internal::core {

// Empties `result` before a mapping.
inline void ResetResult(MappedEvent* result) {
  result->violations.clear();
  result->warnings.clear();
  result->wire_json.clear();
  result->event_name.clear();
  result->id.clear();
  result->timestamp_ms = 0;
}

}  // namespace internal::core
}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_EVENT_MAPPER_CORE_H_
