#include "bench/streamfit_bench/server_resources.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/streamfit_bench/load.h"
#include "streamfit/v1/streamfit.grpc.pb.h"

extern char** environ;

namespace streamfit::bench {
namespace {

// A loopback port free at the time of the call.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// A streamfit-server child process on a loopback port and a temporary data
// directory, with no default model; ended by its PID (SIGTERM, then waited
// for) when destroyed.
class ServerProcess {
 public:
  explicit ServerProcess(const std::string& binary)
      : address_(absl::StrCat("127.0.0.1:", FreePort())),
        data_dir_(
            std::filesystem::temp_directory_path() /
            absl::StrCat("streamfit-resources-", getpid(), "-", next_id_++)) {
    std::filesystem::remove_all(data_dir_);
    std::vector<std::string> args = {binary, "--address=" + address_,
                                     "--data_dir=" + data_dir_.string(),
                                     "--default_model="};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // The server's log lines would drown the figures.
    posix_spawn_file_actions_t quiet;
    posix_spawn_file_actions_init(&quiet);
    posix_spawn_file_actions_addopen(&quiet, STDERR_FILENO, "/dev/null",
                                     O_WRONLY, 0);
    if (posix_spawn(&pid_, argv[0], &quiet, nullptr, argv.data(), environ) !=
        0) {
      pid_ = 0;
    }
    posix_spawn_file_actions_destroy(&quiet);
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status;
      waitpid(pid_, &status, 0);
    }
    std::filesystem::remove_all(data_dir_);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  bool started() const { return pid_ > 0; }
  const std::string& address() const { return address_; }

  // A "Name:   123 ..." line of the child's /proc status (Threads, VmRSS or
  // VmHWM in kB), or -1.
  long Status(const std::string& name) const {
    std::ifstream status(absl::StrCat("/proc/", pid_, "/status"));
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind(name + ":", 0) == 0) {
        return std::stol(line.substr(name.size() + 1));
      }
    }
    return -1;
  }

 private:
  static inline int next_id_ = 0;
  const std::string address_;
  const std::filesystem::path data_dir_;
  pid_t pid_ = 0;
};

// Creates models m0..m<n-1> (regression, 10 dense features); false on the
// first error.
bool CreateModels(const std::string& address, int n, std::string* error) {
  for (int i = 0; i < n; ++i) {
    if (!PrepareModel(address, absl::StrCat("m", i), 10, 0, error)) {
      return false;
    }
  }
  return true;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int RunServerResources(const ServerResourcesOptions& options) {
  struct Figures {
    std::vector<double> threads, rss_mb, peak_rss_mb;
  };
  std::map<std::string, Figures> figures;
  for (int run = 0; run < options.runs; ++run) {
    for (const std::string& binary : options.binaries) {
      Figures& f = figures[binary];
      std::string error;
      {
        ServerProcess server(binary);
        if (!server.started() ||
            !CreateModels(server.address(), options.models, &error)) {
          std::fprintf(stderr, "%s: %s\n", binary.c_str(), error.c_str());
          return 1;
        }
        absl::SleepFor(absl::Seconds(1));  // let start-up work settle
        f.threads.push_back(server.Status("Threads"));
        f.rss_mb.push_back(server.Status("VmRSS") / 1024.0);
      }
      {
        ServerProcess server(binary);
        if (!server.started() || !PrepareModel(server.address(), "wide",
                                               options.features, 0, &error)) {
          std::fprintf(stderr, "%s: %s\n", binary.c_str(), error.c_str());
          return 1;
        }
        ObserveLoad load;
        load.model = "wide";
        load.features = options.features;
        load.duration_s = options.duration_s;
        const ObserveResult result = RunObserveStream(server.address(), load);
        if (!result.error.empty()) {
          std::fprintf(stderr, "%s: %s\n", binary.c_str(),
                       result.error.c_str());
          return 1;
        }
        f.peak_rss_mb.push_back(server.Status("VmHWM") / 1024.0);
      }
      std::printf(
          "run %d %s: %d models: %.0f threads, RSS %.1f MB; "
          "%u-feature stream: peak RSS %.1f MB\n",
          run + 1, binary.c_str(), options.models, f.threads.back(),
          f.rss_mb.back(), options.features, f.peak_rss_mb.back());
      std::fflush(stdout);
    }
  }
  std::printf(
      "\n| server | threads, %d models | RSS, %d models | peak RSS, "
      "%u-feature stream |\n|---|---|---|---|\n",
      options.models, options.models, options.features);
  for (const std::string& binary : options.binaries) {
    const Figures& f = figures[binary];
    std::printf("| %s | %.0f | %.1f MB | %.1f MB |\n", binary.c_str(),
                Median(f.threads), Median(f.rss_mb), Median(f.peak_rss_mb));
  }
  return 0;
}

}  // namespace streamfit::bench
