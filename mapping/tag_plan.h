// The compiled form of a TagMappingConfig, shared by the compiler
// (tag_plan.cc) and the mapper (tag_mapper.cc). Internal to the mapping
// library: include tag_mapper.h instead.
//
// Every source path of every slot is split once, at compile time, into a
// prefix tree of property names: paths that share a prefix ("user.email",
// "user.phone") share its nodes. Mapping an event walks each object of the
// event once and finds the wanted children of a node through a small hash
// table, so no path is parsed and no name is hashed twice per event.
#ifndef CONVERSIONS_MAPPING_TAG_PLAN_H_
#define CONVERSIONS_MAPPING_TAG_PLAN_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "conversions/v1/event.pb.h"
#include "mapping/tag_mapper.h"

namespace conversions::mapping {
namespace internal {

// Indexes of kTagSlots.
enum Slot : size_t {
  kEventId,
  kEventTimestamp,
  kCustomEventName,
  kOppref,
  kType,
  kPageUrl,
  kEmail,
  kPhone,
  kUserId,
  kFirstName,
  kLastName,
  kCountry,
  kCity,
  kZipcode,
  kState,
  kIp,
  kUserAgent,
  kOptOut,
  kValue,
  kCurrency,
  kPlanId,
  kItems,
  kItemId,
  kItemName,
  kItemContentType,
  kContentType,
  kItemPrice,
  kItemQuantity,
  kItemCurrency,
  kSlotCount
};
static_assert(kSlotCount == kTagSlots.size());
static_assert(kTagSlots[kType] == "type" &&
              kTagSlots[kOptOut] == "partners.openai.opt_out" &&
              kTagSlots[kItems] == "items" &&
              kTagSlots[kContentType] == "content_type" &&
              kTagSlots[kItemCurrency] == "items.X.currency");

// A cheap hash of a property name: its length and three of its bytes,
// mixed by one multiplication. Equal names have equal hashes; a table
// lookup compares the whole name only when the hashes are equal.
inline std::uint32_t NameHash(const char* p, size_t n) {
  if (n == 0) return 0;
  std::uint32_t h =
      static_cast<std::uint32_t>(n & 0xff) |
      static_cast<std::uint32_t>(static_cast<unsigned char>(p[0])) << 8 |
      static_cast<std::uint32_t>(static_cast<unsigned char>(p[n / 2])) << 16 |
      static_cast<std::uint32_t>(static_cast<unsigned char>(p[n - 1])) << 24;
  h *= 0x9E3779B1u;
  return h ^ (h >> 16);
}

// Compares n bytes with at most a few (overlapping) word loads.
inline bool SameBytes(const char* a, const char* b, size_t n) {
  if (n >= 8) {
    std::uint64_t x, y;
    for (size_t i = 0; i + 8 < n; i += 8) {
      std::memcpy(&x, a + i, 8);
      std::memcpy(&y, b + i, 8);
      if (x != y) return false;
    }
    std::memcpy(&x, a + n - 8, 8);
    std::memcpy(&y, b + n - 8, 8);
    return x == y;
  }
  if (n >= 4) {
    std::uint32_t x, y, u, v;
    std::memcpy(&x, a, 4);
    std::memcpy(&y, b, 4);
    std::memcpy(&u, a + n - 4, 4);
    std::memcpy(&v, b + n - 4, 4);
    return x == y && u == v;
  }
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// One segment of a source path, as a node of a prefix tree.
struct PathNode;

// The wanted children of one node (or the roots of a tree), by name: an
// open-addressing table at most a quarter full, keyed by NameHash, so a
// name that is not wanted usually costs one probe and no comparison.
struct ChildIndex {
  struct Slot {
    std::uint32_t hash = 0;
    std::int32_t node = -1;  // -1: an empty slot
  };
  std::vector<int> nodes;   // the children, in insertion order
  std::vector<Slot> slots;  // a power of two of them
  std::uint32_t mask = 0;   // slots.size() - 1

  // Returns the child named `name`, or -1.
  inline int Find(const std::string& name,
                  const std::vector<PathNode>& tree) const;
};

struct PathNode {
  std::string key;      // the property name
  int index = -1;       // the key as a list index, when it is all digits
  ChildIndex children;  // the nodes one segment longer
};

inline int ChildIndex::Find(const std::string& name,
                            const std::vector<PathNode>& tree) const {
  if (nodes.empty()) return -1;
  const std::uint32_t hash = NameHash(name.data(), name.size());
  for (std::uint32_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot slot = slots[i];
    if (slot.node < 0) return -1;
    if (slot.hash != hash) continue;
    const std::string& key = tree[slot.node].key;
    if (key.size() == name.size() &&
        SameBytes(key.data(), name.data(), name.size())) {
      return slot.node;
    }
  }
}

// A prefix tree of source paths.
struct PathTree {
  std::vector<PathNode> nodes;
  ChildIndex roots;
};

// One source of a slot.
struct SourcePath {
  bool per_item = false;  // read from the current item, not from the event
  int node = 0;           // into TagPlan::items or TagPlan::event
  std::string display;    // the path for messages; for per-item sources the
                          // part after "X." ("product.price")
};

struct TagPlan {
  // The event mapping, sorted by name.
  std::vector<std::pair<std::string, v1::EventType>> event_types;
  // Each slot's sources in priority order (index: Slot).
  std::array<std::vector<SourcePath>, kSlotCount> slots;
  // The paths read from the event, and from each item.
  PathTree event;
  PathTree items;
  // Fixed sources, as nodes of `event`.
  int event_name = 0;
  int email_sha256 = 0;
  int phone_sha256 = 0;
  int id_sha256 = 0;
  int firstname_sha256 = 0;
  int lastname_sha256 = 0;
  v1::ActionSource default_action_source = v1::ACTION_SOURCE_WEB;
  std::vector<std::string> consent_categories;
  // The keys of user.consent_categories, read before anything else.
  std::string user_key = "user";
  std::string consent_categories_key = "consent_categories";
};

}  // namespace internal
}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_TAG_PLAN_H_
