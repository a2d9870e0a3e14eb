#include "core/command_line.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace streamfit {
namespace {

[[noreturn]] void UsageError(absl::string_view program,
                             absl::string_view message) {
  std::cerr << program << ": " << message << "\nrun '" << program
            << " --help' for usage\n";
  std::exit(kUsageExitCode);
}

[[noreturn]] void PrintHelp(const CommandLineSpec& spec, bool all) {
  std::vector<absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (all || spec.is_own_flag == nullptr ||
        spec.is_own_flag(flag->Filename())) {
      flags.push_back(flag);
    }
  }
  std::sort(flags.begin(), flags.end(),
            [](const auto* a, const auto* b) { return a->Name() < b->Name(); });
  std::string out = spec.usage;
  if (!out.empty() && out.back() != '\n') out += '\n';
  absl::StrAppend(&out, "\nflags:\n");
  for (const absl::CommandLineFlag* flag : flags) {
    const std::string default_value = flag->DefaultValue();
    absl::StrAppend(
        &out, "  --", flag->Name(), "  ", flag->Help(),
        " (default: ", default_value.empty() ? "\"\"" : default_value, ")\n");
  }
  absl::StrAppend(&out,
                  "  --help  this text; --helpfull lists the libraries' "
                  "flags too\n");
  std::cout << out;
  std::cout.flush();
  std::exit(0);
}

}  // namespace

std::vector<char*> ParseCommandLineOrExit(int argc, char** argv,
                                          const CommandLineSpec& spec) {
  std::string program = argc > 0 ? argv[0] : "streamfit";
  program = program.substr(program.rfind('/') + 1);
  std::vector<char*> positional;
  if (argc > 0) positional.push_back(argv[0]);
  bool flags_done = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (flags_done || arg.size() < 2 || arg[0] != '-') {
      positional.push_back(argv[i]);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    absl::ConsumePrefix(&arg, "-");
    absl::ConsumePrefix(&arg, "-");
    absl::string_view name = arg;
    absl::string_view value;
    bool has_value = false;
    if (const size_t eq = arg.find('='); eq != absl::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    if (name == "help" || name == "h" || name == "helpshort") {
      PrintHelp(spec, /*all=*/false);
    }
    if (name == "helpfull") PrintHelp(spec, /*all=*/true);
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && !has_value && absl::StartsWith(name, "no")) {
      absl::CommandLineFlag* negated =
          absl::FindCommandLineFlag(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) {
        flag = negated;
        value = "false";
        has_value = true;
      }
    }
    if (flag == nullptr || flag->IsRetired()) {
      UsageError(program, absl::StrCat("unknown flag --", name));
    }
    if (!has_value) {
      if (flag->IsOfType<bool>()) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        UsageError(program, absl::StrCat("--", name, " needs a value"));
      }
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      UsageError(program, absl::StrCat("--", name, "=", value, ": ", error));
    }
  }
  return positional;
}

}  // namespace streamfit
