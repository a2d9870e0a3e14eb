// Command-line parsing with the exit codes operators and scripts expect:
// `--help` prints the usage and the program's own flags and exits 0; an
// unknown flag or a bad flag value prints the problem and exits 2. Abseil's
// ParseCommandLine exits 1 in both cases, which a probe or a script cannot
// tell from a server-side failure.
#ifndef STREAMFIT_CORE_COMMAND_LINE_H_
#define STREAMFIT_CORE_COMMAND_LINE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace streamfit {

// The exit code of a usage error (bad command line), as in sysexits-free
// Unix convention (grep, curl, getopt-based tools).
inline constexpr int kUsageExitCode = 2;

struct CommandLineSpec {
  // What the program does and how to call it; printed first by --help.
  std::string usage;
  // Whether a flag defined in this source file is one of the program's own
  // (listed by --help; every registered flag is accepted either way).
  std::function<bool(absl::string_view filename)> is_own_flag;
};

// Sets the Abseil flags named on the command line and returns the remaining
// arguments, argv[0] first. Accepts --name=value, --name value, -name,
// --bool, --nobool, and "--" (everything after it is positional). Handles
// --help, --helpfull (every registered flag) and -h, exiting 0. Not
// thread-safe: call once at the top of main.
std::vector<char*> ParseCommandLineOrExit(int argc, char** argv,
                                          const CommandLineSpec& spec);

}  // namespace streamfit

#endif  // STREAMFIT_CORE_COMMAND_LINE_H_
