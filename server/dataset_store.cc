#include "server/dataset_store.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <filesystem>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/file_util.h"
#include "core/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "server/names.h"

namespace streamfit {
namespace fs = std::filesystem;
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
        !example.features().named().empty()) {
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
                             std::FILE* file)
    : store_(store),
      temp_path_(std::move(temp_path)),
      file_(file),
      sha_(std::make_unique<Sha>()) {
  EVP_DigestInit_ex(sha_->ctx, EVP_sha256(), nullptr);
}

DatasetStore::Upload::~Upload() {
  if (file_ != nullptr) std::fclose(file_);
  std::error_code ec;
  if (!done_) fs::remove(temp_path_, ec);
}

absl::Status DatasetStore::Upload::Append(absl::string_view chunk) {
  if (bytes_ + chunk.size() > store_->max_bytes()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the upload is over the server's limit of ",
                     store_->max_bytes(), " bytes (--max_dataset_bytes)"));
  }
  if (std::fwrite(chunk.data(), 1, chunk.size(), file_) != chunk.size()) {
    return FileError(errno, absl::StrCat("write ", temp_path_));
  }
  EVP_DigestUpdate(sha_->ctx, chunk.data(), chunk.size());
  bytes_ += chunk.size();
  return absl::OkStatus();
}

absl::StatusOr<v1::DatasetInfo> DatasetStore::Upload::Finish(
    const v1::UploadDatasetRequest& spec) {
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
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) {
    return FileError(errno, absl::StrCat("write ", temp_path_));
  }
  const int closed = std::fclose(file_);
  file_ = nullptr;
  if (closed != 0) return FileError(errno, absl::StrCat("close ", temp_path_));

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
  ASSIGN_OR_RETURN(const std::string bytes, ReadWholeFile(temp_path_));
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

  absl::MutexLock lock(&store_->mu_);
  const std::string data_path = store_->PathOf(info.id(), ".data");
  std::error_code ec;
  if (fs::exists(data_path, ec)) {
    return store_->Get(info.id());  // the same upload again: the temp goes
  }
  fs::rename(temp_path_, data_path, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot rename to ", data_path, ": ", ec.message()));
  }
  done_ = true;
  if (absl::Status s = WriteFileAtomically(store_->PathOf(info.id(), ".meta"),
                                           info.SerializeAsString());
      !s.ok()) {
    fs::remove(data_path, ec);
    return s;
  }
  return info;
}

absl::StatusOr<std::unique_ptr<DatasetStore>> DatasetStore::Open(
    Options options) {
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create dataset directory ", options.dir, ": ", ec.message()));
  }
  // Leftovers of interrupted uploads, and data without metadata.
  for (const auto& entry : fs::directory_iterator(options.dir, ec)) {
    const std::string name = entry.path().filename().string();
    const bool orphan =
        entry.path().extension() == ".data" &&
        !fs::exists(fs::path(entry.path()).replace_extension(".meta"), ec);
    if (absl::StartsWith(name, "tmp-") || absl::EndsWith(name, ".tmp") ||
        orphan) {
      fs::remove(entry.path(), ec);
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
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) {
    return FileError(errno, absl::StrCat("create ", path));
  }
  return std::unique_ptr<Upload>(new Upload(this, path, file));
}

absl::StatusOr<v1::DatasetInfo> DatasetStore::Get(const std::string& id) const {
  RETURN_IF_ERROR(ValidateDatasetId(id));
  absl::StatusOr<std::string> meta = ReadWholeFile(PathOf(id, ".meta"));
  if (!meta.ok()) {
    return absl::NotFoundError(absl::StrCat("dataset '", id, "' not found"));
  }
  v1::DatasetInfo info;
  if (!info.ParseFromString(*meta)) {
    return absl::DataLossError(
        absl::StrCat("dataset '", id, "': unreadable metadata"));
  }
  return info;
}

std::vector<v1::DatasetInfo> DatasetStore::List() const {
  std::vector<v1::DatasetInfo> out;
  std::error_code ec;
  std::vector<std::string> ids;
  for (const auto& entry : fs::directory_iterator(options_.dir, ec)) {
    if (entry.path().extension() == ".meta") {
      ids.push_back(entry.path().stem().string());
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
  RETURN_IF_ERROR(Get(id).status());
  absl::MutexLock lock(&mu_);
  std::error_code ec;
  fs::remove(PathOf(id, ".meta"), ec);
  fs::remove(PathOf(id, ".data"), ec);
  return absl::OkStatus();
}

absl::StatusOr<ExampleBatch> DatasetStore::Load(const std::string& id) const {
  ASSIGN_OR_RETURN(const v1::DatasetInfo info, Get(id));
  ASSIGN_OR_RETURN(const std::string bytes, ReadWholeFile(PathOf(id, ".data")));
  ASSIGN_OR_RETURN(ParsedDataset parsed, ParseDatasetBytes(bytes, info));
  return std::move(parsed.examples);
}

}  // namespace streamfit
