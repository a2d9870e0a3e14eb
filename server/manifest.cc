#include "server/manifest.h"

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/status_macros.h"
#include "core/storage/file_util.h"
#include "server/proto_convert.h"

namespace streamfit {
namespace {

constexpr absl::string_view kMagic = "SFMANI1\n";

}  // namespace

// Payload: "next <n>" then one "model <name> <incarnation> <base64 of the
// serialized v1::ModelConfig> <base64 of a serialized v1::ModelInfo holding
// only the lineage>" line per model (names hold no spaces; manifests written
// before lineage was kept lack the last field).
absl::StatusOr<Manifest> Manifest::Load(const std::string& path,
                                        FileSystem* fs) {
  absl::StatusOr<std::string> data = ReadWholeFile(path, fs);
  if (absl::IsNotFound(data.status())) return Manifest();
  if (!data.ok()) return data.status();
  ASSIGN_OR_RETURN(const std::string payload,
                   DecodeFramed(kMagic, *data, path));
  Manifest manifest;
  for (absl::string_view line : absl::StrSplit(payload, '\n')) {
    if (line.empty()) continue;
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    std::string config_bytes;
    v1::ModelConfig config;
    Entry entry;
    if (f.size() == 2 && f[0] == "next" &&
        absl::SimpleAtoi(f[1], &manifest.next_incarnation)) {
      continue;
    }
    std::string lineage_bytes;
    v1::ModelInfo lineage;
    if ((f.size() == 4 || f.size() == 5) && f[0] == "model" &&
        absl::SimpleAtoi(f[2], &entry.incarnation) &&
        absl::Base64Unescape(f[3], &config_bytes) &&
        config.ParseFromString(config_bytes) &&
        (f.size() == 4 || (absl::Base64Unescape(f[4], &lineage_bytes) &&
                           lineage.ParseFromString(lineage_bytes)))) {
      entry.config = FromProto(config);
      entry.lineage.assign(lineage.lineage().begin(), lineage.lineage().end());
      manifest.models[std::string(f[1])] = entry;
      continue;
    }
    return absl::DataLossError(
        absl::StrCat(path, ": unreadable line '", line, "'"));
  }
  return manifest;
}

absl::Status Manifest::Save(const std::string& path, FileSystem* fs) const {
  std::string payload = absl::StrCat("next ", next_incarnation, "\n");
  for (const auto& [name, entry] : models) {
    v1::ModelInfo lineage;
    for (const v1::ModelLineage& event : entry.lineage) {
      *lineage.add_lineage() = event;
    }
    absl::StrAppend(
        &payload, "model ", name, " ", entry.incarnation, " ",
        absl::Base64Escape(ToProto(entry.config).SerializeAsString()), " ",
        absl::Base64Escape(lineage.SerializeAsString()), "\n");
  }
  return WriteFileAtomically(path, EncodeFramed(kMagic, payload), fs);
}

}  // namespace streamfit
