#include "server/auth/tls_credentials.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace streamfit::auth {
namespace {

constexpr unsigned kRefreshSeconds = 1;

struct Contents {
  std::string cert;
  std::string key;
  std::string client_ca;
};

absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(absl::StrCat("cannot read ", path));
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Every PEM certificate in `pem`, at least one.
absl::Status CheckCertificates(const std::string& pem,
                               const std::string& path) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  int count = 0;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    X509_free(cert);
    ++count;
  }
  BIO_free(bio);
  if (count == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " holds no PEM certificate"));
  }
  return absl::OkStatus();
}

absl::Status CheckKeyMatches(const Contents& c, const TlsFiles& files) {
  BIO* cert_bio =
      BIO_new_mem_buf(c.cert.data(), static_cast<int>(c.cert.size()));
  X509* cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
  BIO_free(cert_bio);
  BIO* key_bio = BIO_new_mem_buf(c.key.data(), static_cast<int>(c.key.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  BIO_free(key_bio);
  absl::Status status;
  if (key == nullptr) {
    status = absl::FailedPreconditionError(
        absl::StrCat(files.key_file, " holds no PEM private key"));
  } else if (cert == nullptr || X509_check_private_key(cert, key) != 1) {
    status = absl::FailedPreconditionError(
        absl::StrCat(files.key_file, " is not the key of the certificate in ",
                     files.cert_file));
  }
  EVP_PKEY_free(key);
  X509_free(cert);
  return status;
}

absl::StatusOr<Contents> ReadAndCheck(const TlsFiles& files) {
  Contents c;
  absl::StatusOr<std::string> cert = ReadWhole(files.cert_file);
  if (!cert.ok()) return cert.status();
  c.cert = *std::move(cert);
  absl::StatusOr<std::string> key = ReadWhole(files.key_file);
  if (!key.ok()) return key.status();
  c.key = *std::move(key);
  if (absl::Status s = CheckCertificates(c.cert, files.cert_file); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckKeyMatches(c, files); !s.ok()) return s;
  if (!files.client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadWhole(files.client_ca_file);
    if (!ca.ok()) return ca.status();
    c.client_ca = *std::move(ca);
    if (absl::Status s = CheckCertificates(c.client_ca, files.client_ca_file);
        !s.ok()) {
      return s;
    }
  }
  return c;
}

// Writes `data` to `path` atomically (a temporary file renamed over it),
// readable by the owner only.
absl::Status WriteAtomically(const std::string& path, const std::string& data) {
  const std::string temp = path + ".tmp";
  FILE* f = std::fopen(temp.c_str(), "wb");
  if (f == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot write ", temp, ": ", std::strerror(errno)));
  }
  ::fchmod(::fileno(f), 0600);
  const bool written =
      std::fwrite(data.data(), 1, data.size(), f) == data.size();
  if (std::fclose(f) != 0 || !written) {
    return absl::InternalError(absl::StrCat("cannot write ", temp));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot rename ", temp, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

std::string TlsCredentials::CopyPath(const char* name) const {
  return absl::StrCat(runtime_dir_, "/", name);
}

absl::StatusOr<std::unique_ptr<TlsCredentials>> TlsCredentials::Create(
    const TlsFiles& files, const std::string& runtime_parent) {
  if (files.cert_file.empty() || files.key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert_file and --tls_key_file go together");
  }
  absl::StatusOr<Contents> contents = ReadAndCheck(files);
  if (!contents.ok()) return contents.status();

  std::string parent = runtime_parent;
  if (parent.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    parent = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  std::string templ = absl::StrCat(parent, "/streamfit-tls-XXXXXX");
  if (::mkdtemp(templ.data()) == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create a directory for the TLS files under ",
                     parent, ": ", std::strerror(errno)));
  }
  std::unique_ptr<TlsCredentials> tls(new TlsCredentials(files, templ));
  for (auto [name, data] : {std::pair{"cert.pem", &contents->cert},
                            std::pair{"key.pem", &contents->key},
                            std::pair{"client_ca.pem", &contents->client_ca}}) {
    if (data->empty()) continue;
    if (absl::Status s = WriteAtomically(tls->CopyPath(name), *data); !s.ok()) {
      return s;
    }
  }
  const bool mutual = !files.client_ca_file.empty();
  auto provider = mutual
                      ? std::make_shared<
                            grpc::experimental::FileWatcherCertificateProvider>(
                            tls->CopyPath("key.pem"), tls->CopyPath("cert.pem"),
                            tls->CopyPath("client_ca.pem"), kRefreshSeconds)
                      : std::make_shared<
                            grpc::experimental::FileWatcherCertificateProvider>(
                            tls->CopyPath("key.pem"), tls->CopyPath("cert.pem"),
                            kRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (mutual) {
    options.watch_root_certs();
    options.set_cert_request_type(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  tls->credentials_ = grpc::experimental::TlsServerCredentials(options);
  if (tls->credentials_ == nullptr) {
    return absl::InternalError("gRPC refused the TLS options");
  }
  return tls;
}

TlsCredentials::~TlsCredentials() {
  std::error_code ec;
  std::filesystem::remove_all(runtime_dir_, ec);
}

absl::Status TlsCredentials::Reload() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Contents> contents = ReadAndCheck(files_);
  if (!contents.ok()) return contents.status();
  // Key first: the watcher pairs them and retries a mismatch next refresh.
  if (absl::Status s = WriteAtomically(CopyPath("key.pem"), contents->key);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = WriteAtomically(CopyPath("cert.pem"), contents->cert);
      !s.ok()) {
    return s;
  }
  if (!contents->client_ca.empty()) {
    return WriteAtomically(CopyPath("client_ca.pem"), contents->client_ca);
  }
  return absl::OkStatus();
}

}  // namespace streamfit::auth
