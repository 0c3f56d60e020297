// The funnel experiment of the reference study. For each sampler and each
// step size of a log-spaced grid it makes several seeded runs of a few chains
// with a fixed step and no warmup from 0.1·N(0, I). It reports the KL
// divergence of the pooled v draws from N(0, 3²) and the bulk ESS at the step
// size whose mean KL over the seeds is lowest.
//
// Usage: fmala-funnel-grid [--dims 11,51,101] [--grid 25] [--seeds 10]
//                          [--chains 5] [--draws 5000] [--csv FILE]
// At D ≥ 101 the draws double and the grid starts at 0.01, as in the
// reference scripts (0.1 below). Prints one Markdown table per dimension and
// writes every (sampler, step, seed) run to the CSV file.

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "fmala/diagnostics/diagnostics.hpp"
#include "fmala/run.hpp"
#include "fmala/targets/builtin.hpp"

namespace {

struct Variant {
  std::string name;
  fmala::SamplerOptions options;
};

std::vector<Variant> variants() {
  using fmala::SamplerKind;
  std::vector<Variant> out;
  for (SamplerKind kind : fmala::kDefaultSamplers) {
    Variant v;
    v.name = std::string(fmala::sampler_name(kind));
    v.options.kind = kind;
    out.push_back(v);
  }
  Variant aligned;
  aligned.name = "fmala --aligned";
  aligned.options.kind = SamplerKind::fmala;
  aligned.options.aligned = true;
  out.push_back(aligned);
  Variant persistent;
  persistent.name = "fmala --persistent";
  persistent.options.kind = SamplerKind::fmala;
  persistent.options.persistent = true;
  out.push_back(persistent);
  return out;
}

struct Result {
  double kl = NAN;
  double ess_min = NAN;   // smallest bulk ESS over the coordinates
  double ess_mean = NAN;  // mean bulk ESS over the coordinates
  double accept = NAN;
  double seconds = 0;
};

std::vector<int> parse_list(const char* text) {
  std::vector<int> out;
  std::string s(text);
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    out.push_back(std::atoi(s.substr(start, comma - start).c_str()));
    if (comma == std::string::npos) {
      break;
    }
    start = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> dims = {11, 51, 101};
  int grid = 25;
  int seeds = 10;
  int chains = 5;
  int draws = 5000;
  std::string csv_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--dims") {
      dims = parse_list(argv[i + 1]);
    } else if (flag == "--grid") {
      grid = std::atoi(argv[i + 1]);
    } else if (flag == "--seeds") {
      seeds = std::atoi(argv[i + 1]);
    } else if (flag == "--chains") {
      chains = std::atoi(argv[i + 1]);
    } else if (flag == "--draws") {
      draws = std::atoi(argv[i + 1]);
    } else if (flag == "--csv") {
      csv_path = argv[i + 1];
    } else {
      std::fprintf(stderr, "fmala-funnel-grid: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (grid < 2 || seeds < 1 || chains < 2 || draws < 4) {
    std::fprintf(stderr, "fmala-funnel-grid: need --grid >= 2, --seeds >= 1, --chains >= 2, --draws >= 4\n");
    return 2;
  }
  std::ofstream csv;
  if (!csv_path.empty()) {
    csv.open(csv_path);
    csv << "dim,sampler,step,seed,kl,ess_bulk_min,ess_bulk_mean,accept_prob,seconds\n";
  }
  const std::vector<Variant> all = variants();
  for (const int dim : dims) {
    const auto model = fmala::make_funnel_model(dim);
    const double low = dim >= 101 ? 0.01 : 0.1;
    const int run_draws = dim >= 101 ? 2 * draws : draws;
    std::vector<double> steps(static_cast<size_t>(grid));
    for (int g = 0; g < grid; ++g) {
      steps[g] = low * std::pow(2.0 / low, static_cast<double>(g) / (grid - 1));
    }
    std::printf("\n### Funnel, D = %d (%d chains × %d draws, %d seeds, %d step sizes from %g to 2)\n\n",
                dim, chains, run_draws, seeds, grid, low);
    std::printf("| sampler | best step | KL (mean ± sd over seeds) | bulk ESS min | bulk ESS mean | accept |\n");
    std::printf("|---|---:|---:|---:|---:|---:|\n");
    for (const Variant& variant : all) {
      std::vector<Result> results(static_cast<size_t>(grid) * seeds);
#pragma omp parallel for schedule(dynamic)
      for (int job = 0; job < grid * seeds; ++job) {
        const int g = job / seeds;
        const int seed = job % seeds;
        fmala::RunSettings s;
        s.options = variant.options;
        s.chains = chains;
        s.warmup = 0;
        s.draws = run_draws;
        s.seed = static_cast<uint64_t>(seed + 1);
        s.step_size = steps[g];
        Result& r = results[job];
        try {
          const fmala::SamplerRun run = fmala::run_sampler(*model, s);
          std::vector<double> v(static_cast<size_t>(chains) * run_draws);
          std::vector<double> column(static_cast<size_t>(chains) * run_draws);
          double ess_min = INFINITY;
          double ess_sum = 0;
          for (int j = 0; j < dim; ++j) {
            for (int c = 0; c < chains; ++c) {
              for (int t = 0; t < run_draws; ++t) {
                column[static_cast<size_t>(c) * run_draws + t] = run.draws.at(c, t)[j];
              }
            }
            if (j == 0) {
              v = column;
            }
            const double ess = fmala::diag::ess_bulk(column.data(), chains, run_draws);
            ess_min = std::min(ess_min, std::isfinite(ess) ? ess : 0.0);
            ess_sum += std::isfinite(ess) ? ess : 0.0;
          }
          r.kl = fmala::diag::funnel_kl(v.data(), v.size());
          r.ess_min = ess_min;
          r.ess_mean = ess_sum / dim;
          r.accept = run.accept_prob;
          r.seconds = run.seconds_sampling;
        } catch (const std::exception&) {
          // A run that fails (for example a non-finite start) counts as no result.
        }
      }
      int best = -1;
      double best_kl = INFINITY;
      for (int g = 0; g < grid; ++g) {
        double sum = 0;
        for (int seed = 0; seed < seeds; ++seed) {
          const double kl = results[static_cast<size_t>(g) * seeds + seed].kl;
          sum += std::isfinite(kl) ? kl : INFINITY;
        }
        if (sum / seeds < best_kl) {
          best_kl = sum / seeds;
          best = g;
        }
      }
      if (csv.is_open()) {
        for (int job = 0; job < grid * seeds; ++job) {
          const Result& r = results[job];
          csv << dim << ',' << variant.name << ',' << steps[job / seeds] << ',' << job % seeds + 1
              << ',' << r.kl << ',' << r.ess_min << ',' << r.ess_mean << ',' << r.accept << ','
              << r.seconds << '\n';
        }
        csv.flush();  // each finished sampler survives an interrupted run
      }
      if (best < 0) {
        std::printf("| %s | — | no finite KL | | | |\n", variant.name.c_str());
        continue;
      }
      double kl_sq = 0, ess_min = 0, ess_mean = 0, accept = 0;
      for (int seed = 0; seed < seeds; ++seed) {
        const Result& r = results[static_cast<size_t>(best) * seeds + seed];
        kl_sq += (r.kl - best_kl) * (r.kl - best_kl);
        ess_min += r.ess_min / seeds;
        ess_mean += r.ess_mean / seeds;
        accept += r.accept / seeds;
      }
      const double kl_sd = seeds > 1 ? std::sqrt(kl_sq / (seeds - 1)) : 0.0;
      std::printf("| %s | %.3g | %.3f ± %.3f | %.0f | %.0f | %.2f |\n", variant.name.c_str(),
                  steps[best], best_kl, kl_sd, ess_min, ess_mean, accept);
      std::fflush(stdout);
    }
  }
  return 0;
}
