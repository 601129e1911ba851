#include "mapping/event_mapper.h"

#include <cstdint>

#include "mapping/event_mapper_core.h"

namespace conversions::mapping {

void MapEvent(const v1::Event& event, std::int64_t now_ms,
              MappedEvent* result) {
  internal::core::ResetResult(result);
  internal::core::Mapper<v1::Event>(event, now_ms, result).Run();
}

MappedEvent MapEvent(const v1::Event& event, std::int64_t now_ms) {
  MappedEvent result;
  MapEvent(event, now_ms, &result);
  return result;
}

}  // namespace conversions::mapping
