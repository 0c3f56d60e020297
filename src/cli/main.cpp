// fmala: the command-line program. `fmala sample` runs one or more samplers on a
// built-in target or model, prints a progress bar and a comparison table, and
// writes summary.json and draws-<sampler>.npy into the output directory.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <new>
#include <regex>
#include <string>
#include <thread>

#include "cli/options.hpp"
#include "cli/shard.hpp"
#include "fmala/core/error.hpp"
#include "fmala/version.hpp"

namespace {

const char* kTopFooter = R"(Examples:
  fmala sample --target funnel --dim 11 --sampler pc-line-fmala,mala --chains 1024 --draws 2000 --out runs/funnel
  fmala sample --model mlp --data data/concrete --chains 64 --out runs/concrete
  fmala sample --help        every option of the sample command
  fmala resume runs/funnel   continue a run stopped by Ctrl-C, SIGTERM or a crash

  mpirun -np 4 fmala sample --target funnel --chains 4096 --out runs/f4
                             the chains spread over 4 processes, the same draws as one process

Exit status: 0 done, 2 bad input or settings, 130, 143 or 138 stopped by SIGINT, SIGTERM or
SIGUSR1 (resumable), 1 anything else.)";

// Reports an error and returns the exit status. In a job of several
// processes, the others may wait for this one in a collective operation, so
// the whole job ends here. A process other than rank 0 reports after a pause:
// when every process meets the same error, rank 0 ends the job first and the
// message appears once.
int fail(const fmala::cli::Shard& shard, int status, const std::string& message) {
  if (!shard.several()) {
    std::fprintf(stderr, "fmala: %s\n", message.c_str());
    return status;
  }
  if (shard.rank() != 0) {
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  std::fprintf(stderr, "fmala (process %d of %d): %s\n", shard.rank(), shard.size(), message.c_str());
  std::fflush(stderr);
  shard.abort(status);
}

// The message of a command-line error, in the program's words, with the help
// page that lists what is valid. CLI11's own wording names its parser's
// internals ("At Most 1 required", "Could not convert").
std::string parse_error_message(const CLI::ParseError& e, const CLI::App& sample, const CLI::App& resume,
                                int argc, char** argv) {
  if (!sample.parsed() && !resume.parsed()) {
    const std::string first = argc > 1 ? argv[1] : "";
    if (!first.empty() && first[0] != '-') {
      return "unknown command '" + first + "'. The commands are sample and resume; run 'fmala --help'";
    }
    const std::string parser_message = e.what();
    return (parser_message == "A subcommand is required" ? std::string("a command is required: sample or resume")
                                                         : parser_message) +
           ". Run 'fmala --help' for the commands";
  }
  const CLI::App& command = resume.parsed() ? resume : sample;
  const std::string help = resume.parsed() ? "fmala resume --help" : "fmala sample --help";
  std::string message = e.what();
  std::smatch m;
  static const std::regex twice("^(.*): At Most 1 required but received ([0-9]+)$");
  static const std::regex convert("^Could not convert: (.*) = (.*)$");
  // m refers into `message`, so its parts are copied before it changes.
  if (std::regex_match(message, m, twice)) {
    const std::string name = m[1].str();
    message = name + " was given " + m[2].str() + " times; give it once";
    if (name == "--sampler") {
      message += ", with the samplers separated by commas (--sampler pc-line-fmala,mala)";
    }
  } else if (std::regex_match(message, m, convert)) {
    const std::string name = m[1].str();
    const std::string value = m[2].str();
    const CLI::Option* option = command.get_option_no_throw(name);
    const bool whole = option != nullptr && option->get_type_name().find("INT") != std::string::npos;
    message = name + ": '" + value + "' is not " + (whole ? "a whole number" : "a number");
  }
  if (message == "The following argument was not expected: --version") {
    message += " after a command; 'fmala --version' prints the version";
  }
  return message + ". Run '" + help + "' for the options";
}

}  // namespace

int main(int argc, char** argv) {
  std::unique_ptr<fmala::cli::Shard> shard;
  try {
    shard = std::make_unique<fmala::cli::Shard>(&argc, &argv);
  } catch (const fmala::Error& e) {
    std::fprintf(stderr, "fmala: error: %s\n", e.what());
    return 2;
  }
  fmala::cli::set_current_shard(shard.get());
  // In a job of several processes only rank 0 prints help and parse errors.
  const bool speaks = shard->rank() == 0;
  CLI::App app{"fmala: forward-mode MALA samplers (FMALA, Line-FMALA, PC-FMALA, PC-Line-FMALA)\n"
               "next to RWMH and MALA, on many chains at once.",
               "fmala"};
  app.footer(kTopFooter);
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("fmala ") + fmala::version() + " (commit " +
                                        fmala::source_commit() + ", CUDA architectures " +
                                        fmala::cuda_architectures() + ")");
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
    return speaks ? app.exit(e) : 0;
  } catch (const CLI::ParseError& e) {
    if (speaks) {
      std::fprintf(stderr, "fmala: error: %s.\n", parse_error_message(e, *sample, *resume, argc, argv).c_str());
    }
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
    return fail(*shard, 2, std::string("error: ") + e.what());
  } catch (const std::bad_alloc&) {
    return fail(*shard, 2,
                "error: out of memory. Keep fewer draws (raise --thin), or run fewer chains or samplers at "
                "once");
  } catch (const std::exception& e) {
    return fail(*shard, 1, std::string("internal error: ") + e.what());
  }
}
