// Feeds arbitrary bytes, as the wire form of one google.protobuf.Struct (a
// tag event as TrackEvents receives it), to ParseTagTree and to protobuf's
// own Struct::ParseFromString. They must agree:
//   - ParseTagTree succeeds exactly when ParseFromString does;
//   - then the tree holds what TagTreeFromStruct copies from the parsed
//     Struct, and what the Struct holds (objects compared as sets of keys,
//     numbers bit for bit), and its strings and keys lie in its buffer,
//     which is followed by kTagTreePadding zero bytes;
//   - a tree reused across inputs (as the gateway will reuse one per
//     worker) parses as a fresh one does, and a failed parse leaves it
//     empty.
// Any disagreement aborts, which libFuzzer reports as a crash; the
// sanitizers of the fuzz build catch reads past the buffer.
//
// Seeds: tests/fuzz/tag_tree_corpus, serialized Structs (the tag events of
// tests/fuzz/tag_corpus, and hand-written bytes with duplicate keys,
// merged struct and list values, unknown fields and groups, and lists and
// groups nested exactly to the recursion limit). Inputs one level past the
// limit need two coordinated edits, which the fuzzer rarely makes: the
// limit's off-by-ones are tag_tree_test's to catch.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/stubs/logging.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "mapping/tag_tree.h"
#include "tests/mapping/tag_tree_util.h"

namespace {

using conversions::mapping::TagTree;

void Check(bool ok, const char* what, const std::string& detail = "") {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s %s\n", what, detail.c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  // protobuf logs every string that is not valid UTF-8.
  static const google::protobuf::LogSilencer* const kQuiet =
      new google::protobuf::LogSilencer;
  (void)kQuiet;
  static TagTree* const reused = new TagTree;

  const std::string wire(reinterpret_cast<const char*>(data), size);
  google::protobuf::Struct expected;
  const bool protobuf_ok = expected.ParseFromString(wire);
  TagTree fresh;
  const bool fresh_ok = conversions::mapping::ParseTagTree(wire, &fresh).ok();
  const bool reused_ok = conversions::mapping::ParseTagTree(wire, reused).ok();
  Check(fresh_ok == protobuf_ok, protobuf_ok
                                     ? "protobuf parses, ParseTagTree fails"
                                     : "ParseTagTree parses, protobuf fails");
  Check(reused_ok == fresh_ok, "a reused tree parses differently");
  if (!fresh_ok) {
    Check(fresh.root().fields_size() == 0 && reused->root().fields_size() == 0,
          "a failed parse leaves content");
    return 0;
  }
  namespace t = conversions::testing;
  Check(t::TagTreeDiff(fresh, expected).empty(),
        "tree differs from Struct:", t::TagTreeDiff(fresh, expected));
  TagTree copied;
  conversions::mapping::TagTreeFromStruct(expected, &copied);
  Check(t::TagTreeDiff(fresh, copied).empty(),
        "tree differs from TagTreeFromStruct:", t::TagTreeDiff(fresh, copied));
  Check(t::TagTreeDiff(*reused, fresh).empty(),
        "reused tree differs:", t::TagTreeDiff(*reused, fresh));
  Check(t::TagTreePaddingDiff(fresh).empty(),
        "parsed buffer:", t::TagTreePaddingDiff(fresh));
  Check(t::TagTreePaddingDiff(*reused).empty(),
        "reused buffer:", t::TagTreePaddingDiff(*reused));
  Check(t::TagTreePaddingDiff(copied).empty(),
        "copied buffer:", t::TagTreePaddingDiff(copied));
  return 0;
}
