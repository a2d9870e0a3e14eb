#include "server/dataset_store.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/status_macros.h"
#include "core/storage/file_util.h"
#include "google/protobuf/io/coded_stream.h"
#include "server/names.h"

namespace streamfit {
namespace {

constexpr size_t kMaxReasons = 10;

// SHA-256 of a string, hex.
std::string Sha256Hex(absl::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<char*>(digest), size));
}

DatasetParseOptions ParseOptionsOf(const v1::DatasetInfo& info) {
  DatasetParseOptions o;
  o.format = info.format() == v1::DATASET_FORMAT_LIBSVM ? DatasetFormat::kLibsvm
                                                        : DatasetFormat::kCsv;
  o.has_header = info.has_header();
  o.label_column = info.label_column();
  o.num_features =
      info.format() == v1::DATASET_FORMAT_LIBSVM ? info.num_features() : 0;
  o.skip_bad_rows = info.skip_bad_rows();
  return o;
}

}  // namespace

struct DatasetStore::Upload::Sha {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Sha() { EVP_MD_CTX_free(ctx); }
};

absl::Status ValidateDatasetId(absl::string_view id) {
  if (!absl::StartsWith(id, "ds-") || id.size() < 4 || id.size() > 67) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", id, "' is not a dataset id (ds-<hex>)"));
  }
  for (char c : id.substr(3)) {
    if (!absl::ascii_isxdigit(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", id, "' is not a dataset id (ds-<hex>)"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateUploadSpec(const v1::UploadDatasetRequest& spec) {
  if (!v1::DatasetFormat_IsValid(spec.format())) {
    return absl::InvalidArgumentError(
        absl::StrCat("format ", spec.format(), " is not a DatasetFormat"));
  }
  if (!spec.name().empty()) {
    RETURN_IF_ERROR(ValidateName("dataset name", spec.name()));
  }
  return absl::OkStatus();
}

absl::StatusOr<ParsedDataset> ParseExampleStream(absl::string_view bytes,
                                                 bool skip_bad_rows) {
  ParsedDataset out;
  ExampleBatch& b = out.examples;
  google::protobuf::io::CodedInputStream in(
      reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  in.SetTotalBytesLimit(INT32_MAX);
  v1::Example example;
  for (uint64_t index = 0; !in.ExpectAtEnd(); ++index) {
    uint32_t size;
    if (!in.ReadVarint32(&size)) {
      return absl::InvalidArgumentError(
          absl::StrCat("message ", index, ": truncated length prefix"));
    }
    const auto limit = in.PushLimit(size);
    const bool parsed = example.ParseFromCodedStream(&in) &&
                        in.BytesUntilLimit() == 0 && in.ConsumedEntireMessage();
    in.PopLimit(limit);
    std::string error;
    if (!parsed) {
      // A bad frame leaves the position unknown: always fatal.
      return absl::InvalidArgumentError(absl::StrCat(
          "message ", index, ": truncated or not a streamfit.v1.Example"));
    }
    const auto& dense = example.features().dense();
    if (!example.features().indices().empty() ||
        !example.features().named().empty() ||
        !example.features().hashes().empty()) {
      // Not dropped silently: a fit would learn a different model.
      error = "has sparse or named features; datasets hold dense ones only";
    } else if (dense.empty()) {
      error = "no features";
    } else if (b.size() > 0 &&
               static_cast<uint32_t>(dense.size()) != b.num_features) {
      error =
          absl::StrCat(dense.size(), " features, expected ", b.num_features);
    } else if (!(std::abs(example.label()) <= kMaxAbsValue)) {
      error = "label is not finite within 1e18 in magnitude";
    } else {
      for (int j = 0; j < dense.size() && error.empty(); ++j) {
        if (!(std::abs(dense[j]) <= kMaxAbsValue)) {
          error = absl::StrCat("features.dense[", j,
                               "] is not finite within 1e18 in magnitude");
        }
      }
    }
    if (!error.empty()) {
      const std::string reason = absl::StrCat("message ", index, ": ", error);
      if (!skip_bad_rows) return absl::InvalidArgumentError(reason);
      ++out.skipped_rows;
      if (out.skipped_reasons.size() < kMaxReasons) {
        out.skipped_reasons.push_back(reason);
      }
      continue;
    }
    if (b.size() == 0) b.num_features = dense.size();
    const float w = example.weight() == 0 ? 1 : example.weight();
    if (!(std::abs(w) <= kMaxAbsValue) || w < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "message ", index, ": weight must be finite, >= 0 and at most 1e18"));
    }
    b.Add(std::span<const float>(dense.data(), dense.size()), example.label(),
          w);
  }
  if (b.size() == 0) {
    return absl::InvalidArgumentError("the dataset has no valid examples");
  }
  return out;
}

absl::StatusOr<ParsedDataset> ParseDatasetBytes(absl::string_view bytes,
                                                const v1::DatasetInfo& info) {
  if (info.format() == v1::DATASET_FORMAT_EXAMPLES) {
    return ParseExampleStream(bytes, info.skip_bad_rows());
  }
  return ParseDataset(bytes, ParseOptionsOf(info));
}

DatasetStore::Upload::Upload(DatasetStore* store, std::string temp_path,
                             std::unique_ptr<FileSystem::WritableFile> file)
    : store_(store),
      temp_path_(std::move(temp_path)),
      file_(std::move(file)),
      sha_(std::make_unique<Sha>()) {
  EVP_DigestInit_ex(sha_->ctx, EVP_sha256(), nullptr);
}

DatasetStore::Upload::~Upload() {
  file_.reset();
  // Best effort: the store removes temporary files it finds when it opens.
  if (!done_) (void)store_->fs_->Remove(temp_path_);
}

absl::Status DatasetStore::Upload::Append(absl::string_view chunk) {
  if (bytes_ + chunk.size() > store_->max_bytes()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the upload is over the server's limit of ",
                     store_->max_bytes(), " bytes (--max_dataset_bytes)"));
  }
  if (file_ == nullptr) {
    return absl::FailedPreconditionError("the upload has finished");
  }
  RETURN_IF_ERROR(file_->PWrite(bytes_, chunk));
  EVP_DigestUpdate(sha_->ctx, chunk.data(), chunk.size());
  bytes_ += chunk.size();
  return absl::OkStatus();
}

absl::StatusOr<v1::DatasetInfo> DatasetStore::Upload::Finish(
    const v1::UploadDatasetRequest& spec) {
  if (file_ == nullptr) {
    return absl::FailedPreconditionError("the upload has finished");
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(sha_->ctx, digest, &size);
  const std::string sha = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<char*>(digest), size));
  if (spec.total_bytes() != 0 && spec.total_bytes() != bytes_) {
    return absl::DataLossError(absl::StrCat("the upload is truncated: ", bytes_,
                                            " of ", spec.total_bytes(),
                                            " bytes arrived"));
  }
  if (!spec.sha256().empty() && absl::AsciiStrToLower(spec.sha256()) != sha) {
    return absl::DataLossError(absl::StrCat(
        "the upload's sha256 is ", sha, ", the client sent ", spec.sha256()));
  }
  RETURN_IF_ERROR(file_->Sync());
  file_.reset();

  RETURN_IF_ERROR(ValidateUploadSpec(spec));
  v1::DatasetInfo info;
  info.set_name(spec.name());
  info.set_format(spec.format() == v1::DATASET_FORMAT_UNSPECIFIED
                      ? v1::DATASET_FORMAT_CSV
                      : spec.format());
  info.set_has_header(spec.has_header());
  info.set_label_column(spec.label_column());
  info.set_skip_bad_rows(spec.skip_bad_rows());
  info.set_num_features(spec.num_features());
  if (info.format() != v1::DATASET_FORMAT_LIBSVM && spec.num_features() != 0) {
    return absl::InvalidArgumentError(
        "num_features is for libsvm uploads only");
  }
  ASSIGN_OR_RETURN(const std::string bytes,
                   ReadWholeFile(temp_path_, store_->fs_));
  ASSIGN_OR_RETURN(const ParsedDataset parsed, ParseDatasetBytes(bytes, info));
  info.set_rows(parsed.examples.size());
  info.set_num_features(parsed.examples.num_features);
  info.set_bytes(bytes_);
  info.set_sha256(sha);
  info.set_skipped_rows(parsed.skipped_rows);
  for (const std::string& r : parsed.skipped_reasons) {
    info.add_skipped_reasons(r);
  }
  // The id names the content, how it is read and the name it was uploaded
  // under: the same bytes under another name are another dataset.
  info.set_id(absl::StrCat(
      "ds-",
      Sha256Hex(absl::StrCat(sha, "|", info.format(), "|", info.has_header(),
                             "|", info.label_column(), "|", spec.num_features(),
                             "|", info.skip_bad_rows(), "|", info.name()))
          .substr(0, 16)));
  info.set_created_unix_ms(absl::ToUnixMillis(absl::Now()));
  return store_->Publish(temp_path_, info, &done_);
}

void DatasetStore::Claim(const std::string& id) {
  absl::MutexLock lock(&mu_);
  while (claimed_.count(id) > 0) released_.Wait(&mu_);
  claimed_.insert(id);
}

void DatasetStore::Release(const std::string& id) {
  absl::MutexLock lock(&mu_);
  claimed_.erase(id);
  released_.SignalAll();
}

absl::StatusOr<v1::DatasetInfo> DatasetStore::Publish(
    const std::string& temp_path, const v1::DatasetInfo& info, bool* moved) {
  Claim(info.id());
  absl::StatusOr<v1::DatasetInfo> result =
      [&]() -> absl::StatusOr<v1::DatasetInfo> {
    absl::StatusOr<v1::DatasetInfo> existing = Get(info.id());
    if (!absl::IsNotFound(existing.status())) {
      return existing;  // the same upload again (or an unreadable one)
    }
    const std::string data_path = PathOf(info.id(), ".data");
    RETURN_IF_ERROR(fs_->Rename(temp_path, data_path));
    *moved = true;
    // Atomic, and its directory fsync also makes the rename above durable.
    const std::string meta_path = PathOf(info.id(), ".meta");
    if (absl::Status s =
            WriteFileAtomically(meta_path, info.SerializeAsString(), fs_);
        !s.ok()) {
      // The .meta may be in place if only the directory fsync failed. What
      // is left is removed as an orphan at the next open.
      (void)fs_->Remove(meta_path);
      (void)fs_->Remove(data_path);
      return s;
    }
    return info;
  }();
  Release(info.id());
  return result;
}

absl::StatusOr<std::unique_ptr<DatasetStore>> DatasetStore::Open(
    Options options) {
  FileSystem* const fs = options.file_system;
  if (absl::Status s = fs->CreateDirectories(options.dir); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create dataset directory ", options.dir, ": ", s.message()));
  }
  ASSIGN_OR_RETURN(const std::vector<std::string> names,
                   fs->ListDirectory(options.dir));
  const std::set<std::string> present(names.begin(), names.end());
  // Leftovers of interrupted uploads, and data or metadata without the
  // other (a publish or delete cut short).
  const auto lacks = [&](const std::string& name, absl::string_view ext,
                         absl::string_view other) {
    return absl::EndsWith(name, ext) &&
           present.count(absl::StrCat(name.substr(0, name.size() - ext.size()),
                                      other)) == 0;
  };
  for (const std::string& name : names) {
    const bool orphan =
        lacks(name, ".data", ".meta") || lacks(name, ".meta", ".data");
    if (absl::StartsWith(name, "tmp-") || absl::EndsWith(name, ".tmp") ||
        orphan) {
      (void)fs->Remove(absl::StrCat(options.dir, "/", name));
    }
  }
  return std::unique_ptr<DatasetStore>(new DatasetStore(std::move(options)));
}

std::string DatasetStore::PathOf(const std::string& id,
                                 absl::string_view ext) const {
  return absl::StrCat(options_.dir, "/", id, ext);
}

absl::StatusOr<std::unique_ptr<DatasetStore::Upload>>
DatasetStore::BeginUpload() {
  std::string path;
  {
    absl::MutexLock lock(&mu_);
    path = absl::StrCat(options_.dir, "/tmp-", ::getpid(), "-", next_temp_++);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<FileSystem::WritableFile> file,
                   fs_->OpenWritable(path, /*truncate=*/true));
  return std::unique_ptr<Upload>(new Upload(this, path, std::move(file)));
}

absl::StatusOr<v1::DatasetInfo> DatasetStore::Get(const std::string& id) const {
  RETURN_IF_ERROR(ValidateDatasetId(id));
  absl::StatusOr<std::string> meta = ReadWholeFile(PathOf(id, ".meta"), fs_);
  if (absl::IsNotFound(meta.status())) {
    return absl::NotFoundError(absl::StrCat("dataset '", id, "' not found"));
  }
  if (!meta.ok()) return meta.status();
  v1::DatasetInfo info;
  if (!info.ParseFromString(*meta)) {
    return absl::DataLossError(
        absl::StrCat("dataset '", id, "': unreadable metadata"));
  }
  return info;
}

std::vector<v1::DatasetInfo> DatasetStore::List() const {
  std::vector<v1::DatasetInfo> out;
  absl::StatusOr<std::vector<std::string>> names =
      fs_->ListDirectory(options_.dir);
  if (!names.ok()) return out;
  std::vector<std::string> ids;
  for (const std::string& name : *names) {
    if (absl::EndsWith(name, ".meta")) {
      ids.push_back(name.substr(0, name.size() - 5));
    }
  }
  std::sort(ids.begin(), ids.end());
  for (const std::string& id : ids) {
    absl::StatusOr<v1::DatasetInfo> info = Get(id);
    if (info.ok()) out.push_back(*std::move(info));
  }
  return out;
}

absl::Status DatasetStore::Delete(const std::string& id) {
  RETURN_IF_ERROR(ValidateDatasetId(id));
  Claim(id);
  absl::Status status = Get(id).status();
  if (status.ok()) {
    // Without its .meta the dataset is gone; a left .data is an orphan
    // removed at the next open.
    status = fs_->Remove(PathOf(id, ".meta"));
    if (status.ok()) {
      (void)fs_->Remove(PathOf(id, ".data"));
      status = SyncDirectory(options_.dir, fs_);
    }
  }
  Release(id);
  return status;
}

absl::StatusOr<ExampleBatch> DatasetStore::Load(const std::string& id) const {
  ASSIGN_OR_RETURN(const v1::DatasetInfo info, Get(id));
  ASSIGN_OR_RETURN(const std::string bytes,
                   ReadWholeFile(PathOf(id, ".data"), fs_));
  ASSIGN_OR_RETURN(ParsedDataset parsed, ParseDatasetBytes(bytes, info));
  return std::move(parsed.examples);
}

}  // namespace streamfit
