#include "service/spool_segments.h"

#include <algorithm>
#include <utility>

namespace conversions::service {

void PayloadSegments::Load(const std::vector<Found>& found,
                           std::int64_t current) {
  state_ = State();
  before_.reset();
  state_.current = current;
  for (const Found& f : found) {
    Segment& s = state_.segments[f.segment];
    s.events = f.events;
    s.open = f.open;
    s.first_id = f.first_id;
    s.last_id = f.last_id;
    s.closed_at = current;
  }
}

void PayloadSegments::Appended(std::int64_t segment, std::int64_t id) {
  Touch();
  auto [it, fresh] = state_.segments.try_emplace(segment);
  Segment& s = it->second;
  if (fresh) {
    s.first_id = id;
    s.closed_at = segment;
  }
  s.first_id = std::min(s.first_id, id);
  s.last_id = std::max(s.last_id, id);
  ++s.events;
  ++s.open;
  state_.current = std::max(state_.current, segment);
}

void PayloadSegments::Closed(std::int64_t segment) {
  auto it = state_.segments.find(segment);
  if (it == state_.segments.end()) return;
  Touch();  // copies the state; `it` stays valid
  if (it->second.open > 0) --it->second.open;
  it->second.closed_at = state_.current;
}

void PayloadSegments::Reopened(std::int64_t segment) {
  auto it = state_.segments.find(segment);
  if (it == state_.segments.end()) return;
  Touch();
  ++it->second.open;
}

std::vector<std::int64_t> PayloadSegments::ToRemove(size_t limit) const {
  std::vector<std::int64_t> out;
  for (const auto& [segment, s] : state_.segments) {
    if (out.size() >= limit || segment >= state_.current) break;
    const bool done = s.open <= 0;
    const bool stragglers =
        2 * s.open <= s.events && state_.current - s.closed_at >= 2;
    if (done || stragglers) out.push_back(segment);
  }
  return out;
}

std::pair<std::int64_t, std::int64_t> PayloadSegments::RowsOf(
    std::int64_t segment) const {
  auto it = state_.segments.find(segment);
  if (it == state_.segments.end()) return {1, 0};
  return {it->second.first_id, it->second.last_id};
}

void PayloadSegments::Removed(std::int64_t segment) {
  Touch();
  state_.segments.erase(segment);
}

void PayloadSegments::Rollback() {
  if (before_) state_ = std::move(*before_);
  before_.reset();
}

std::int64_t PayloadSegments::OpenIn(std::int64_t segment) const {
  auto it = state_.segments.find(segment);
  return it == state_.segments.end() ? 0 : it->second.open;
}

}  // namespace conversions::service
