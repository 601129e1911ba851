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
#include <string_view>
#include <utility>
#include <vector>

#include "conversions/v1/event.pb.h"
#include "mapping/tag_mapper.h"
#include "mapping/tag_tree.h"

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

// The masks of KeyWords for a name of 0 to 16 bytes: its bytes in each
// word.
struct KeyWordMasks {
  std::uint64_t head[17];
  std::uint64_t tail[17];
};
inline constexpr KeyWordMasks kKeyWordMasks = [] {
  KeyWordMasks m{};
  for (size_t n = 0; n <= 16; ++n) {
    const size_t in_head = n < 8 ? n : 8;
    const size_t in_tail = n > 8 ? n - 8 : 0;
    m.head[n] = in_head == 8 ? ~std::uint64_t{0}
                             : (std::uint64_t{1} << (8 * in_head)) - 1;
    m.tail[n] = in_tail == 8 ? ~std::uint64_t{0}
                             : (std::uint64_t{1} << (8 * in_tail)) - 1;
  }
  return m;
}();

// The words that stand for a property name in a lookup: up to 16 bytes,
// its bytes 0 to 7 and 8 to 15, zero-padded; longer, its first and last
// eight bytes. Names of equal length up to 16 bytes are equal exactly when
// their words are. Without a branch for short names, whose lengths vary
// key after key: both words are loaded whole, then masked to the length,
// so 16 bytes from `name.data()` must be readable. They are for a
// std::string (its buffer always holds 16 bytes: the inline buffer, or a
// heap buffer of a larger capacity, in libstdc++ as in libc++) and for a
// key or string of a TagTree (its buffer is followed by kTagTreePadding
// zero bytes); not for an arbitrary string_view.
inline void KeyWords(std::string_view name, std::uint64_t* head,
                     std::uint64_t* tail) {
  const char* p = name.data();
  const size_t n = name.size();
  if (n > 16) {
    std::memcpy(head, p, 8);
    std::memcpy(tail, p + n - 8, 8);
    return;
  }
  // Masked by a table: two loads and two ands, where computing the masks
  // from the length took a dozen instructions for each key of the walk.
  std::uint64_t lo, hi;
  std::memcpy(&lo, p, 8);
  std::memcpy(&hi, p + 8, 8);
  *head = lo & kKeyWordMasks.head[n];
  *tail = hi & kKeyWordMasks.tail[n];
}
static_assert(kTagTreePadding >= 16, "KeyWords loads 16 bytes of a tree key");

// The home slot of a name in a table of 2^(64 - `shift`) slots: its
// KeyWords and length folded into one word, times an odd `seed`, top bits.
// One multiplication: the lookup sits on the critical path of the walk of
// every object, key after key. (The tail is rotated so that its bytes do
// not cancel the same bytes of the head.)
inline std::uint32_t NameHash(std::uint64_t head, std::uint64_t tail, size_t n,
                              std::uint64_t seed, std::uint32_t shift) {
  const std::uint64_t folded = head ^ ((tail << 29) | (tail >> 35)) ^ n;
  return static_cast<std::uint32_t>((folded * seed) >> shift);
}

// One segment of a source path, as a node of a prefix tree.
struct PathNode;

// The wanted children of one node (or the roots of a tree), by name: an
// open-addressing table keyed by NameHash. The compiler picks the seed and
// size so that, as a rule, every wanted name sits in its home slot
// (`perfect`): a lookup then reads one slot, whose copy of the name's
// length and first and last eight bytes decides names of up to 16 bytes
// without touching the tree. Otherwise lookups probe linearly.
struct ChildIndex {
  static constexpr std::uint32_t kEmptySize = 0xFFFFFFFF;
  struct Slot {
    std::uint64_t head = 0;  // the name's KeyWords
    std::uint64_t tail = 0;
    // The name's length; no name's in an empty slot, so that a lookup
    // can compare it before it knows whether the slot is empty.
    std::uint32_t size = kEmptySize;
    std::int32_t node = -1;  // -1: an empty slot
    bool parent = false;     // the node has children
  };
  std::vector<int> nodes;    // the children, in insertion order
  std::vector<Slot> slots;   // a power of two of them
  std::uint32_t mask = 0;    // slots.size() - 1
  std::uint32_t shift = 63;  // for NameHash: 64 - log2(slots.size())
  std::uint64_t seed = 1;    // for NameHash
  bool perfect = false;      // every child in its home slot

  // Returns the child named `name`, or -1. `name` is a std::string, or a
  // key or string of a TagTree: KeyWords loads 16 bytes from its start.
  inline int Find(std::string_view name,
                  const std::vector<PathNode>& tree) const {
    const Slot* slot = FindSlot(name, tree);
    return slot == nullptr ? -1 : slot->node;
  }
  // Returns the slot of the child named `name`, or null. As for Find, 16
  // bytes from `name.data()` must be readable.
  inline const Slot* FindSlot(std::string_view name,
                              const std::vector<PathNode>& tree) const {
    return nodes.empty() ? nullptr : FindWantedSlot(name, tree);
  }
  // FindSlot when there are children (!nodes.empty()).
  inline const Slot* FindWantedSlot(std::string_view name,
                                    const std::vector<PathNode>& tree) const;
  // FindWantedSlot in a `perfect` table, given its fields.
  static inline const Slot* FindPerfectSlot(std::string_view name,
                                            const Slot* slots,
                                            std::uint64_t seed,
                                            std::uint32_t shift,
                                            const std::vector<PathNode>& tree);
};

struct PathNode {
  std::string key;      // the property name
  int index = -1;       // the key as a list index, when it is all digits
  ChildIndex children;  // the nodes one segment longer
};

inline const ChildIndex::Slot* ChildIndex::FindPerfectSlot(
    std::string_view name, const Slot* slots, std::uint64_t seed,
    std::uint32_t shift, const std::vector<PathNode>& tree) {
  const size_t n = name.size();
  std::uint64_t head, tail;
  KeyWords(name, &head, &tail);
  const Slot& slot = slots[NameHash(head, tail, n, seed, shift)];
  // One branch decides: the walk of an event's objects looks up every key,
  // wanted or not, and each branch is one more for the processor to
  // predict. (An empty slot's size is no name's.)
  const bool same =
      (slot.size == n) & (slot.head == head) & (slot.tail == tail);
  return same && (n <= 16 || tree[slot.node].key == name) ? &slot : nullptr;
}

inline const ChildIndex::Slot* ChildIndex::FindWantedSlot(
    std::string_view name, const std::vector<PathNode>& tree) const {
  if (perfect) {
    return FindPerfectSlot(name, slots.data(), seed, shift, tree);
  }
  const size_t n = name.size();
  std::uint64_t head, tail;
  KeyWords(name, &head, &tail);
  for (std::uint32_t i = NameHash(head, tail, n, seed, shift);;
       i = (i + 1) & mask) {
    const Slot& slot = slots[i];
    if (slot.node < 0) return nullptr;
    if (slot.size == n && slot.head == head && slot.tail == tail &&
        (n <= 16 || tree[slot.node].key == name)) {
      return &slot;
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
  // The event mapping: the names as the roots of a tree (a lookup is one
  // hash and one compare), and the type of each node.
  PathTree event_names;
  std::vector<v1::EventType> event_types;
  // Each slot's sources in priority order (index: Slot).
  std::array<std::vector<SourcePath>, kSlotCount> slots;
  // Where the mapper finds each source's value, slot by slot as `slots`:
  // the index in its one array of values, the event tree's nodes, the
  // event's kUnreadContainer mark, then the item tree's nodes.
  std::array<std::vector<std::uint32_t>, kSlotCount> slot_values;
  // The paths read from the event, and from each item.
  PathTree event;
  PathTree items;
  // Fixed sources, as nodes of `event`. A pre-hashed one (*_sha256) that
  // is also a source of a slot is instead a node without a key that is no
  // node's child, so always missing: the slot alone reads the property (a
  // 64-hex value passes through the slot's hashing), so that it is neither
  // sent twice nor reported twice.
  int event_name = 0;
  int email_sha256 = 0;
  int id_sha256 = 0;
  int firstname_sha256 = 0;
  int lastname_sha256 = 0;
  // Hashed user properties of the event model that the API cannot use:
  // `user.phone_sha256` (E.164 hashed with its '+'), `user.<prop>_md5`
  // (the API takes SHA-256 only), and the `_sha256` of a location (the API
  // takes country, city, state and zip code in clear).
  // Each one present is dropped with a warning, unless a slot reads it
  // (smart mapping), which then reports it itself.
  struct UnusableHash {
    int node = 0;             // a fixed node of `event`
    std::string path;         // "user.email_md5"
    std::string description;  // the warning's
  };
  std::vector<UnusableHash> unusable_hashes;
  v1::ActionSource default_action_source = v1::ACTION_SOURCE_WEB;
  std::vector<std::string> consent_categories;
  // The keys of user.consent_categories, read before anything else.
  std::string user_key = "user";
  std::string consent_categories_key = "consent_categories";
};

// Renames the fields of `mapped`'s issues, which MapEventView named after
// a typed event, after the properties of `event` their values came from
// through `plan` (and the field that starts a description with them);
// keeps a name it cannot place, such as a default's. tag_paths.cc.
void NameByTagPaths(const TagTree& event, const TagPlan& plan,
                    MappedEvent* mapped);

}  // namespace internal
}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_TAG_PLAN_H_
