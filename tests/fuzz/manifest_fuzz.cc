// Fuzz target: loading a server's manifest file (server/manifest.cc).
// Input: a flags byte, then the file. With flag 1 set, the bytes are the
// payload and the target frames them (magic, length, CRC-32C) the way Save
// does, so inputs reach the line parser behind the checksum. A manifest that
// loads saves and loads again to the same manifest.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/storage/file_util.h"
#include "server/manifest.h"
#include "server/proto_convert.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

// The manifest file's magic (server/manifest.cc).
constexpr absl::string_view kManifestMagic = "SFMANI1\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace streamfit;
  fuzz::FuzzInput in(data, size);
  const uint8_t flags = in.Byte();
  const absl::string_view bytes = in.Rest();
  fuzz::ScratchDir dir;
  dir.Write("MANIFEST", (flags & 1) ? EncodeFramed(kManifestMagic, bytes)
                                    : std::string(bytes));
  absl::StatusOr<Manifest> loaded = Manifest::Load(dir.path() + "/MANIFEST");
  if (!loaded.ok()) return 0;
  const std::string copy = dir.path() + "/MANIFEST.copy";
  if (!loaded->Save(copy).ok()) std::abort();
  absl::StatusOr<Manifest> again = Manifest::Load(copy);
  if (!again.ok() || again->next_incarnation != loaded->next_incarnation ||
      again->models.size() != loaded->models.size()) {
    std::abort();
  }
  for (const auto& [name, entry] : loaded->models) {
    auto it = again->models.find(name);
    if (it == again->models.end() ||
        it->second.incarnation != entry.incarnation ||
        // Compared as bytes: a NaN setting is kept, and NaN != NaN.
        ToProto(it->second.config).SerializeAsString() !=
            ToProto(entry.config).SerializeAsString()) {
      std::abort();
    }
  }
  return 0;
}
