// fmala: the command-line program. `fmala sample` runs one or more samplers on a
// built-in target or model, prints a progress bar and a comparison table, and
// writes summary.json and draws-<sampler>.npy into the output directory.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <new>
#include <filesystem>
#include <string>

#include "cli/options.hpp"
#include "fmala/core/error.hpp"

namespace {

const char* kTopFooter = R"(Examples:
  fmala sample --target funnel --dim 11 --sampler pc-line-fmala,mala --chains 1024 --draws 2000 --out runs/funnel
  fmala sample --model mlp --data data/concrete --chains 64 --out runs/concrete
  fmala sample --help        every option of the sample command
  fmala resume runs/funnel   continue a run stopped by Ctrl-C, SIGTERM or a crash

Exit status: 0 done, 2 bad input or settings, 130 or 143 stopped by SIGINT or SIGTERM
(resumable), 1 anything else.)";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fmala: forward-mode MALA samplers (FMALA, Line-FMALA, PC-FMALA, PC-Line-FMALA)\n"
               "next to RWMH and MALA, on many chains at once.",
               "fmala"};
  app.footer(kTopFooter);
  app.require_subcommand(1);
  app.set_version_flag("--version", "fmala 0.1.0");
  fmala::cli::SampleOptions options;
  CLI::App* sample = app.add_subcommand("sample", "Draw posterior samples with one or more samplers");
  fmala::cli::add_sample_options(*sample, options);
  std::string resume_directory;
  CLI::App* resume = app.add_subcommand(
      "resume", "Continue a run that was stopped, from the checkpoint in its output directory");
  resume->add_option("directory", resume_directory, "The --out directory of the stopped run")->required();
  resume->footer(
      "The run continues with the arguments it was started with (kept in DIR/checkpoint/command)\n"
      "and its draws are bit-identical to those of a run that was never stopped.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    // --help (of the program or of a subcommand) and --version.
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "fmala: error: %s. Run 'fmala sample --help' for the options.\n", e.what());
    return 2;
  }

  try {
    if (resume->parsed()) {
      return fmala::cli::run_resume(resume_directory);
    }
    fmala::cli::Invocation invocation;
    bool after_subcommand = false;
    for (int i = 0; i < argc; ++i) {
      invocation.command_line += (i ? " " : "") + std::string(argv[i]);
      if (after_subcommand) {
        invocation.arguments.emplace_back(argv[i]);
      }
      after_subcommand = after_subcommand || (i > 0 && std::string(argv[i]) == "sample");
    }
    return fmala::cli::run_sample(options, invocation);
  } catch (const fmala::Error& e) {
    std::fprintf(stderr, "fmala: error: %s\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr,
                 "fmala: error: out of memory. Keep fewer draws (raise --thin), or run fewer chains or "
                 "samplers at once\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fmala: internal error: %s\n", e.what());
    return 1;
  }
}
