// symflow demo: invert held-out sounds with every shipped model and show the result.
//
//   symflow demo [--models DIR] [--out out/demo] [--sounds 128] [--surge-sounds 16] [--show 6]
//                [--samples 8] [--steps 100] [--cfg 2] [--seed 0]
//
// Models: every *.safetensors in DIR (default: ./models when it exists, else the source
// tree's models/ folder), grouped by task and task settings (k-osc: k, variant; surge-simple:
// sample rate and length). Sounds: the first --sounds of the k-osc held-out test set of each
// group (KOscStream(k, variant, seed 0).testSounds, never drawn in training).
//
// surge-simple models (a section after the k-osc ones): the first --surge-sounds of the held-out
// test set (models::SurgeTestSet), --samples candidates per sound for flows (one for ffn) ranked
// by MSS (models/surge_inversion.hpp, each rendered with the sound's noise seed), and random
// patches ranked the same way as the reference; the table has MSS, wMFCC, SOT, RMS and parameter
// MSE, the page the Param2Tok assignment with the synth's symmetry scores and, per shown sound,
// audio, waveform and log-frequency spectrogram of target and resyntheses, each with its
// parameters as a params JSON (the format of `symflow render --params`).
//
// k-osc: Each model draws --samples candidates per sound (a regression model
// one) and keeps the one whose rendering has the lowest LSD (models/kosc_inversion.hpp); the
// uniform `random` reference does the same. Prints a table per group (model x LSD, LAC, MSE
// over the sounds, mean +- 95% CI) and writes OUT/index.html: the table, the learned
// Param2Tok assignments as heat maps, and for the first --show sounds the target and every
// model's resynthesis as audio players, waveform and spectrogram images (drawn by
// symflow/viz, PNG by io/png.hpp) and the parameters in Hz / amplitude / shape. The page is
// self-contained (no scripts, no external fonts or styles) and written last, so an
// interrupted demo leaves no page that points at missing files.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include "commands.hpp"
#include "render_tasks.hpp"
#include "symflow/io/atomic_file.hpp"
#include "symflow/io/wav.hpp"
#include "symflow/metrics/kosc.hpp"
#include "symflow/metrics/symmetry.hpp"
#include "symflow/models/kosc_inversion.hpp"
#include "symflow/models/surge_inversion.hpp"
#include "symflow/train/kosc_trainer.hpp"
#include "symflow/train/surge_trainer.hpp"
#include "symflow/viz/heatmap.hpp"
#include "symflow/viz/spectrogram.hpp"
#include "symflow/viz/waveform.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef SYMFLOW_SOURCE_DIR
#define SYMFLOW_SOURCE_DIR "."
#endif

namespace {

using namespace symflow;
namespace fs = std::filesystem;

struct DemoArgs {
  std::string models, out = "out/demo", solver = "rk4";
  long sounds = 128, surgeSounds = 16, show = 6, samples = 8;
  int steps = 100, threads = 0;
  double guidance = 2.0;
  std::uint64_t seed = 0;
};

struct Entry {  // one model of a group, with its results on the group's sounds
  std::string file, label;
  std::unique_ptr<models::KOscModel> model;
  Mat<float> best;  // 3k x B, the chosen candidate per sound (raw)
  Mat<float> audio;  // 1024 x B, its rendering
  metrics::KOscScores scores;
  Index candidates = 1;
  double seconds = 0;
};

struct Group {
  Index k = 0;
  synth::KOscVariant variant{};
  std::vector<Entry> entries;
  synth::KOscBatch<float> sounds;
};

std::string fixed(double v, int digits);

struct SurgeEntry {  // one surge-simple model (or the random reference: no model) with its results
  std::string file, label;
  std::unique_ptr<models::SurgeModel> model;
  Mat<float> best;   // 93 x B, the chosen candidate per sound (raw)
  Mat<float> audio;  // numSamples x B, its rendering
  models::SurgeScores scores;
  Index candidates = 1;
  double seconds = 0;
};

struct SurgeGroup {
  models::SurgeModelConfig cfg;  // of the first model (sample rate and length are the group's)
  std::vector<SurgeEntry> entries;
  synth::SurgeRandomBatch sounds;
};

std::string surgeGroupName(const SurgeGroup& g) {
  return "surge-simple, " + fixed(g.cfg.sampleRate / 1000, 1) + " kHz, " + fixed(g.cfg.seconds, 1) + " s";
}

std::string groupName(const Group& g) { return "k = " + std::to_string(g.k) + ", " + models::toString(g.variant); }
std::string groupId(const Group& g) { return "k" + std::to_string(g.k) + "-" + synth::toString(g.variant); }

std::string html(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else if (c == '"') o += "&quot;";
    else o += c;
  }
  return o;
}

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

double ci95(const Vec<double>& v) {
  if (v.size() < 2) return 0;
  const double m = v.mean();
  return 1.96 * std::sqrt((v.array() - m).square().sum() / double(v.size() - 1) / double(v.size()));
}

std::string findModelsDir(const std::string& given) {
  if (!given.empty()) {
    require(fs::is_directory(given), "--models " + given + ": no such folder");
    return given;
  }
  if (fs::is_directory("models")) return "models";
  const std::string src = std::string(SYMFLOW_SOURCE_DIR) + "/models";
  require(fs::is_directory(src), "no models folder found (looked in ./models and " + src + "); pass --models DIR");
  return src;
}

/// Files to write: path relative to the output folder, bytes. Written at the end, page last.
using FileList = std::vector<std::pair<std::string, std::vector<std::uint8_t>>>;

void addPng(FileList& files, const std::string& rel, const viz::Image& img) { files.emplace_back(rel, viz::encodePng(img)); }

constexpr int kW = 320, kH = 100;

/// One row of a sound's table: who, the sound as audio player (audio/ID.wav), waveform and
/// spectrogram (img/ID-wave.png, img/ID-spec.png), then `cells` (more <td>s, HTML).
void soundRow(std::ostream& h, FileList& files, const std::string& who, const std::string& id, const Vec<float>& audio,
              double rate, const viz::SpectrogramOptions& so, const std::string& cells) {
  files.emplace_back("audio/" + id + ".wav", io::encodeWav(Mat<float>(audio), int(rate), io::WavFormat::Pcm16));
  addPng(files, "img/" + id + "-wave.png", viz::waveform(audio, kW, kH));
  addPng(files, "img/" + id + "-spec.png", viz::spectrogram(audio, rate, kW, kH, so));
  h << "<tr><td>" << html(who) << "</td><td><audio controls preload=\"metadata\" src=\"audio/" << id
    << ".wav\"></audio></td><td><img src=\"img/" << id << "-wave.png\" width=" << kW << " height=" << kH
    << " alt=\"waveform\"></td><td><img src=\"img/" << id << "-spec.png\" width=" << kW << " height=" << kH
    << " alt=\"spectrogram\"></td>" << cells << "</tr>\n";
}

/// "osc1 741 Hz 0.62 saw-ish" summary of one parameter set, oscillators sorted by frequency.
std::string paramSummary(const synth::ParamSpec& spec, Index k, const Eigen::Ref<const Vec<float>>& p) {
  const synth::KOscLayout layout(k);
  std::vector<std::tuple<double, double, double>> osc;
  for (Index i = 0; i < k; ++i) {
    const Index f = layout.frequencyIndex(i), a = layout.amplitudeIndex(i), w = layout.shapeIndex(i);
    auto units = [&](Index r) { return spec[r].toUnits(std::clamp(double(p(r)), -1.0, 1.0)); };
    osc.emplace_back(units(f), units(a), units(w));
  }
  std::sort(osc.begin(), osc.end());
  std::string s;
  for (const auto& [hz, amp, shape] : osc)
    s += (s.empty() ? "" : "<br>") + fixed(hz, 0) + " Hz &middot; " + fixed(amp, 2) + " &middot; " + fixed(shape, 2);
  return s;
}

void runGroup(Group& g, const DemoArgs& a, const models::SampleOptions& so) {
  const synth::KOsc<float> synth(g.k, g.variant);
  audio::RealFft<float> fft(synth::KOscConstants::numSamples);
  const synth::KOscStream<float> stream(g.k, g.variant, 0);
  g.sounds = stream.testSounds(0, Index(a.sounds));
  // The uniform reference, as a model like the others.
  models::KOscModelConfig rc;
  rc.k = g.k;
  rc.variant = g.variant;
  rc.kind = models::ModelKind::Random;
  Entry rnd;
  rnd.file = "(reference)";
  rnd.label = "random";
  rnd.model = models::makeKOscModel(rc);
  g.entries.push_back(std::move(rnd));
  for (auto& e : g.entries) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto kind = e.model->config().kind;
    e.candidates = (models::isFlow(kind) || kind == models::ModelKind::Random) ? Index(a.samples) : 1;
    Rng rng(a.seed);
    const auto c = models::rankedCandidates(*e.model, synth, fft, g.sounds.signals, e.candidates, so, rng);
    e.best.resize(c.params.rows(), c.sounds);
    e.audio.resize(c.audio.rows(), c.sounds);
    for (Index b = 0; b < c.sounds; ++b) {
      e.best.col(b) = c.params.col(c.at(b, 0));
      e.audio.col(b) = c.audio.col(c.at(b, 0));
    }
    e.scores = metrics::evaluateKOsc<float>(synth, e.best, g.sounds.params, g.sounds.signals);
    e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cerr << "demo: " << groupName(g) << ": " << e.label << ": " << a.sounds << " sounds x " << e.candidates
              << " candidate" << (e.candidates > 1 ? "s" : "") << " in " << fixed(e.seconds, 1) << " s, LSD "
              << fixed(e.scores.meanLsd(), 2) << " dB, LAC " << fixed(e.scores.meanLac(), 3) << "\n";
  }
}

void printTable(const Group& g, std::ostream& os) {
  os << "\n" << groupName(g) << ": " << g.sounds.signals.cols() << " held-out sounds, best of N by LSD\n";
  os << std::left << std::setw(34) << "model" << std::right << std::setw(4) << "N" << std::setw(18) << "LSD (dB)"
     << std::setw(18) << "LAC" << std::setw(18) << "param MSE" << "\n";
  for (const auto& e : g.entries) {
    auto cell = [](const Vec<double>& v, int d) { return fixed(v.mean(), d) + " +- " + fixed(ci95(v), d); };
    os << std::left << std::setw(34) << e.label << std::right << std::setw(4) << e.candidates << std::setw(18)
       << cell(e.scores.lsd, 2) << std::setw(18) << cell(e.scores.lac, 3) << std::setw(18) << cell(e.scores.paramMse, 3)
       << "\n";
  }
}

// ---- surge-simple ----

/// The MSS-ranked best of n candidates per sound; a model or, without one, random patches.
void runSurgeEntry(SurgeEntry& e, const SurgeGroup& g, const DemoArgs& a, const models::SampleOptions& so) {
  const auto t0 = std::chrono::steady_clock::now();
  const synth::SurgeSynth synth(g.cfg.synthConfig());
  models::SurgeFeatures features(g.cfg.feature, g.cfg.sampleRate);
  audio::AudioMetrics<> metrics(g.cfg.sampleRate);
  const Index B = g.sounds.audio.cols();
  e.candidates = (!e.model || e.model->config().kind != models::SurgeModelKind::Ffn) ? Index(a.samples) : 1;
  const Index n = e.candidates;
  Rng rng(a.seed);
  Mat<float> params, audio;
  Vec<double> mss;
  if (e.model) {
    const auto c = models::rankedSurgeCandidates(*e.model, synth, features, metrics, g.sounds.audio, g.sounds.seeds, n,
                                                 so, rng);
    params = c.params;
    audio = c.audio;
  } else {  // random patches (as `symflow eval`'s reference), n per sound, ranked by MSS the same way
    Mat<float> raw = synth.sampleRandom(rng, B * n).params, rendered, targets(g.sounds.audio.rows(), B * n);
    std::vector<std::uint64_t> seeds(std::size_t(B * n));
    for (Index j = 0; j < B * n; ++j) {
      seeds[std::size_t(j)] = g.sounds.seeds[std::size_t(j / n)];
      targets.col(j) = g.sounds.audio.col(j / n);
    }
    synth.render(raw, rendered, seeds);
    const Vec<double> d = metrics.mssBatch(CMatRef<float>(rendered), CMatRef<float>(targets));
    auto r = models::rankWithinSounds(raw, rendered, d, B, n);
    params = std::move(r.params);
    audio = std::move(r.audio);
  }
  e.best.resize(params.rows(), B);
  e.audio.resize(audio.rows(), B);
  for (Index b = 0; b < B; ++b) {
    e.best.col(b) = params.col(b * n);
    e.audio.col(b) = audio.col(b * n);
  }
  e.scores = models::scoreSurge(metrics, e.audio, g.sounds.audio, e.best, g.sounds.params);
  e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cerr << "demo: " << surgeGroupName(g) << ": " << e.label << ": " << B << " sounds x " << n << " candidate"
            << (n > 1 ? "s" : "") << " in " << fixed(e.seconds, 1) << " s, MSS " << fixed(e.scores.mss.mean(), 2) << "\n";
}

void runSurgeGroup(SurgeGroup& g, const DemoArgs& a, const models::SampleOptions& so) {
  g.sounds = models::SurgeTestSet(g.cfg).sounds(0, Index(a.surgeSounds));
  SurgeEntry rnd;
  rnd.file = "(reference)";
  rnd.label = "random";
  g.entries.push_back(std::move(rnd));
  for (auto& e : g.entries) runSurgeEntry(e, g, a, so);
}

/// The columns of the surge table: name, per-sound values, digits, lower is better.
std::vector<std::tuple<std::string, const Vec<double>*, int>> surgeColumns(const models::SurgeScores& s) {
  return {{"MSS", &s.mss, 2}, {"wMFCC", &s.wmfcc, 2}, {"SOT", &s.sot, 3}, {"RMS", &s.rms, 3}, {"param MSE", &s.paramMse, 3}};
}

void printSurgeTable(const SurgeGroup& g, std::ostream& os) {
  os << "\n" << surgeGroupName(g) << ": " << g.sounds.audio.cols() << " held-out sounds, best of N by MSS "
     << "(MSS, wMFCC, SOT, param MSE: lower is better; RMS: higher)\n";
  os << std::left << std::setw(34) << "model" << std::right << std::setw(4) << "N";
  for (const auto& [name, v, d] : surgeColumns(g.entries[0].scores)) os << std::setw(18) << name;
  os << "\n";
  for (const auto& e : g.entries) {
    os << std::left << std::setw(34) << e.label << std::right << std::setw(4) << e.candidates;
    for (const auto& [name, v, d] : surgeColumns(e.scores))
      os << std::setw(18) << fixed(v->mean(), d) + " +- " + fixed(ci95(*v), d);
    os << "\n";
  }
}

/// A few parameters in the synth's units (oscillator volumes, filter cutoffs, note), one per line.
std::string surgeSummary(const Eigen::Ref<const Vec<float>>& p) {
  const auto& spec = synth::SurgeSynth::spec();
  auto units = [&](const std::string& name) -> std::string {
    for (Index i = 0; i < spec.size(); ++i)
      if (spec[i].name == name) {
        const double u = spec[i].toUnits(std::clamp(double(p(i)), -1.0, 1.0));
        return fixed(u, std::abs(u) >= 100 ? 0 : 2) + (spec[i].unit.empty() ? "" : " " + spec[i].unit);
      }
    return "?";
  };
  std::string s;
  for (const char* name : {"osc1_volume", "osc2_volume", "osc3_volume", "filter1_cutoff", "filter2_cutoff", "note_pitch"})
    s += (s.empty() ? "" : "<br>") + html(std::string(name) + " " + units(name));
  return s;
}

void surgeSection(std::ostream& h, const SurgeGroup& g, const DemoArgs& a, FileList& files) {
  const std::string gid = "surge-" + fixed(g.cfg.sampleRate, 0) + "-" + fixed(g.cfg.seconds * 1000, 0);
  const auto& spec = synth::SurgeSynth::spec();
  const cli::RenderTask task = cli::makeSurgeTask();
  h << "<h2>" << html(surgeGroupName(g)) << "</h2>\n<p>The Surge-style synth: three oscillators, noise, a high-pass "
       "and two filters, two envelopes and six LFOs, " << spec.size() << " parameters; the oscillators (each with its "
       "LFO) and the two filters (each with its LFO) can be swapped without changing the sound. Flows draw " << a.samples
    << " candidates per sound and keep the one closest by MSS (multi-scale spectral distance); ffn (regression) gives one "
       "answer; random patches are ranked the same way. Each rendering uses the target's noise seed.</p>\n"
    << "<table><tr><th>model</th><th>file</th><th>N</th>";
  for (const auto& [name, v, d] : surgeColumns(g.entries[0].scores)) h << "<th>" << html(name) << "</th>";
  h << "<th>time (s)</th></tr>\n";
  for (const auto& e : g.entries) {
    h << "<tr><td>" << html(e.label) << "</td><td>" << html(e.file) << "</td><td class=num>" << e.candidates << "</td>";
    for (const auto& [name, v, d] : surgeColumns(e.scores))
      h << "<td class=num>" << fixed(v->mean(), d) << " &plusmn; " << fixed(ci95(*v), d) << "</td>";
    h << "<td class=num>" << fixed(e.seconds, 1) << "</td></tr>\n";
  }
  h << "</table><p class=small>" << g.sounds.audio.cols() << " sounds from the held-out test set; mean &plusmn; 95% "
    << "confidence interval. MSS, wMFCC, SOT and parameter MSE: lower is better; RMS (envelope correlation): higher "
       "is better (docs/audio-metrics.md).</p>\n";
  for (std::size_t m = 0; m < g.entries.size(); ++m) {
    if (!g.entries[m].model) continue;
    const auto A = g.entries[m].model->param2TokAssignment();
    if (!A) continue;
    viz::HeatmapOptions ho;
    ho.diverging = true;
    const int cell = 8;
    const std::string rel = "img/" + gid + "-m" + std::to_string(m) + "-assign.png";
    addPng(files, rel, viz::heatmap(*A, int(A->cols()) * cell, int(A->rows()) * cell, ho));
    h << "<h3>Learned Param2Tok assignment A of " << html(g.entries[m].label) << "</h3>\n<p class=small>Rows: "
      << A->rows() << " tokens; columns: the " << A->cols() << " parameters, grouped as labelled; blue negative, red "
      << "positive. Symmetry scores (1 = the assignment respects the symmetry perfectly, docs/surge-model.md):";
    for (std::size_t i = 0; i < spec.symmetries.size(); ++i)
      h << (i ? "; " : " ") << html(spec.symmetries[i].name) << " "
        << fixed(metrics::symmetryScore(*A, spec.symmetries[i]).score, 3);
    h << ".</p>\n<table><tr>";
    for (Index p = 0; p < A->cols();) {
      Index q = p;
      while (q < A->cols() && spec[q].group == spec[p].group) ++q;
      h << "<th style=\"width:" << (q - p) * cell << "px;padding:0;font-size:60%;writing-mode:vertical-rl\">"
        << html(spec[p].group) << "</th>";
      p = q;
    }
    h << "</tr><tr><td colspan=" << A->cols() << " style=\"padding:0\"><img src=\"" << rel << "\" width="
      << A->cols() * cell << " height=" << A->rows() * cell << " alt=\"assignment heat map\"></td></tr></table>\n";
  }
  viz::SpectrogramOptions so;
  so.nFft = 1024;
  so.scale = viz::FrequencyScale::Log;
  so.minHz = 40;
  so.dynamicRangeDb = 70;
  const double rate = g.cfg.sampleRate;
  const Index show = std::min<Index>(Index(a.show), g.sounds.audio.cols());
  for (Index b = 0; b < show; ++b) {
    const Vec<float> target = g.sounds.audio.col(b);
    so.refPower = viz::spectrogramPixelPower(target, rate, kW, kH, so).maxCoeff();
    const std::string base = gid + "-s" + std::to_string(b);
    h << "<h3>Sound " << b + 1 << " (" << html(surgeGroupName(g)) << ")</h3>\n<table class=sound><tr><th>who</th>"
      << "<th>listen</th><th>waveform</th><th>spectrogram (log frequency)</th><th>a few parameters</th>"
      << "<th>MSS</th></tr>\n";
    auto row = [&](const std::string& who, const std::string& id, const Vec<float>& audio,
                   const Eigen::Ref<const Vec<float>>& params, const std::string& mss) {
      const std::string json = "params/" + id + ".json";
      const std::string text =
          cli::paramsJson(task, cli::Rendered{params.cwiseMax(-1.f).cwiseMin(1.f), g.sounds.seeds[std::size_t(b)], {}});
      files.emplace_back(json, std::vector<std::uint8_t>(text.begin(), text.end()));
      soundRow(h, files, who, id, audio, rate, so,
               "<td class=par>" + surgeSummary(params) + "<br><a href=\"" + json + "\">all " +
                   std::to_string(spec.size()) + " (JSON)</a></td><td class=num>" + mss + "</td>");
    };
    row("target", base + "-target", target, g.sounds.params.col(b), "");
    for (std::size_t m = 0; m < g.entries.size(); ++m) {
      const auto& e = g.entries[m];
      row(e.label, base + "-m" + std::to_string(m), e.audio.col(b), e.best.col(b), fixed(e.scores.mss(b), 2));
    }
    h << "</table>\n";
  }
}

std::string page(const std::vector<Group>& groups, const std::vector<SurgeGroup>& surgeGroups, const DemoArgs& a,
                 FileList& files) {
  std::ostringstream h;
  h << "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>symflow demo</title>\n<style>\n"
       "body{font-family:sans-serif;margin:1.5em;color:#222;max-width:1500px}"
       "table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:3px 7px;vertical-align:top}"
       "th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}"
       "img{display:block;image-rendering:pixelated}audio{width:230px}td.par{white-space:nowrap;font-size:80%}"
       ".sound td{font-size:85%}.small{font-size:85%;color:#555}h2{margin-top:2em}\n</style></head><body>\n"
    << "<h1>symflow: synthesizer inversion with equivariant flow matching</h1>\n"
    << "<p>Each model hears a held-out k-osc sound (k oscillators: sine, square or saw blends; 1024 samples at "
       "44.1 kHz), proposes parameters, and the synth renders them. Flows draw " << a.samples
    << " candidates per sound and keep the one that sounds closest (lowest LSD); regression models give one answer. "
       "LAC compares parameters up to oscillator order (lower is better); the random reference draws uniform "
       "parameters. Spectrograms: linear frequency 0 to 5 kHz, 60 dB range, each pair on the target's scale. "
       "Sampler: "
    << a.solver << ", " << a.steps << " steps, guidance " << a.guidance << ", seed " << a.seed << ".</p>\n";
  for (const auto& g : groups) {
    const std::string gid = groupId(g);
    const synth::ParamSpec spec = synth::kOscSpec(g.k, g.variant);
    h << "<h2>" << html(groupName(g)) << "</h2>\n<table><tr><th>model</th><th>file</th><th>N</th><th>LSD (dB)</th>"
      << "<th>LAC</th><th>param MSE</th><th>time (s)</th></tr>\n";
    for (const auto& e : g.entries)
      h << "<tr><td>" << html(e.label) << "</td><td>" << html(e.file) << "</td><td class=num>" << e.candidates
        << "</td><td class=num>" << fixed(e.scores.meanLsd(), 2) << " &plusmn; " << fixed(ci95(e.scores.lsd), 2)
        << "</td><td class=num>" << fixed(e.scores.meanLac(), 3) << " &plusmn; " << fixed(ci95(e.scores.lac), 3)
        << "</td><td class=num>" << fixed(e.scores.meanParamMse(), 3) << "</td><td class=num>" << fixed(e.seconds, 1)
        << "</td></tr>\n";
    h << "</table><p class=small>" << g.sounds.signals.cols() << " sounds from the held-out test set; mean &plusmn; 95% "
      << "confidence interval.</p>\n";
    // Param2Tok assignments.
    for (std::size_t m = 0; m < g.entries.size(); ++m) {
      const auto A = g.entries[m].model->param2TokAssignment();
      if (!A) continue;
      viz::HeatmapOptions ho;
      ho.diverging = true;
      const int cell = 28;
      const std::string rel = "img/" + gid + "-m" + std::to_string(m) + "-assign.png";
      addPng(files, rel, viz::heatmap(*A, int(A->cols()) * cell, int(A->rows()) * cell, ho));
      h << "<h3>Learned Param2Tok assignment A of " << html(g.entries[m].label) << "</h3>\n"
        << "<p class=small>Rows: tokens; columns: parameters; blue negative, red positive. The model was not told "
           "which parameters belong together; a token reading one oscillator's frequency, amplitude and shape means "
           "it discovered the oscillator as a unit.</p>\n<table><tr><td></td>";
      for (Index p = 0; p < A->cols(); ++p)
        h << "<th style=\"width:" << cell - 8 << "px;font-size:70%;writing-mode:vertical-rl\">" << html(spec[p].name)
          << "</th>";
      h << "</tr><tr><td style=\"font-size:70%\">";
      for (Index t = 0; t < A->rows(); ++t)
        h << "<div style=\"height:" << cell << "px;line-height:" << cell << "px\">token " << t << "</div>";
      h << "</td><td colspan=" << A->cols() << " style=\"padding:0\"><img src=\"" << rel << "\" width=" << A->cols() * cell
        << " height=" << A->rows() * cell << " alt=\"assignment heat map\"></td></tr></table>\n";
    }
    // Sounds.
    viz::SpectrogramOptions so;
    so.nFft = 512;
    so.scale = viz::FrequencyScale::Linear;
    so.maxHz = 5000;
    so.dynamicRangeDb = 60;
    const double rate = synth::KOscConstants::sampleRate;
    const Index show = std::min<Index>(Index(a.show), g.sounds.signals.cols());
    for (Index b = 0; b < show; ++b) {
      const Vec<float> target = g.sounds.signals.col(b);
      so.refPower = viz::spectrogramPixelPower(target, rate, kW, kH, so).maxCoeff();
      const std::string base = gid + "-s" + std::to_string(b);
      h << "<h3>Sound " << b + 1 << " (" << html(groupName(g)) << ")</h3>\n<table class=sound><tr><th>who</th>"
        << "<th>listen</th><th>waveform</th><th>spectrogram</th><th>Hz &middot; amp &middot; shape</th>"
        << "<th>LSD (dB)</th><th>LAC</th></tr>\n";
      auto row = [&](const std::string& who, const std::string& id, const Vec<float>& audio,
                     const Eigen::Ref<const Vec<float>>& params, const std::string& lsd, const std::string& lac) {
        soundRow(h, files, who, id, audio, rate, so,
                 "<td class=par>" + paramSummary(spec, g.k, params) + "</td><td class=num>" + lsd +
                     "</td><td class=num>" + lac + "</td>");
      };
      row("target", base + "-target", target, g.sounds.params.col(b), "", "");
      for (std::size_t m = 0; m < g.entries.size(); ++m) {
        const auto& e = g.entries[m];
        row(e.label, base + "-m" + std::to_string(m), e.audio.col(b), e.best.col(b), fixed(e.scores.lsd(b), 2),
            fixed(e.scores.lac(b), 3));
      }
      h << "</table>\n";
    }
  }
  for (const auto& g : surgeGroups) surgeSection(h, g, a, files);
  h << "<p class=small>Made by <code>symflow demo</code>. Models: models/*.safetensors, each with a model card "
       "(models/*.md) giving the command that trained it.</p>\n</body></html>\n";
  return h.str();
}

void run(const DemoArgs& a) {
#ifdef _OPENMP
  if (a.threads > 0) omp_set_num_threads(a.threads);
#endif
  require(a.sounds >= 1 && a.sounds <= 51200, "--sounds must be between 1 and 51200");
  require(a.surgeSounds >= 1 && a.surgeSounds <= 4096, "--surge-sounds must be between 1 and 4096");
  require(a.threads >= 0 && a.threads <= 1024, "--threads must be in [0, 1024] (0: default)");
  require(a.show >= 0, "--show must be >= 0");
  require(a.samples >= 1 && a.samples <= 1024, "--samples must be between 1 and 1024");
  require(a.steps >= 1 && a.steps <= 100000, "--steps must be between 1 and 100000");
  require(std::isfinite(a.guidance), "--cfg must be a finite number");
  require(!a.out.empty(), "--out must not be empty");
  std::error_code ec;
  if (fs::exists(a.out, ec) && !fs::is_directory(a.out, ec)) throw Error("--out " + a.out + ": exists and is not a folder");
  models::SampleOptions so;
  so.steps = a.steps;
  so.guidance = a.guidance;
  so.solver = cli::forOption("--solver", [&] { return models::parseSolverKind(a.solver); });
  const std::string dir = findModelsDir(a.models);
  std::vector<fs::path> paths;
  for (const auto& f : fs::directory_iterator(dir))
    if (f.is_regular_file() && f.path().extension() == ".safetensors") paths.push_back(f.path());
  std::sort(paths.begin(), paths.end());
  require(!paths.empty(), (a.models.empty() ? "" : "--models ") + dir + ": no *.safetensors models");
  std::vector<Group> groups;
  std::vector<SurgeGroup> surgeGroups;
  for (const auto& p : paths) {
    if (train::readModelTask(p.string()) == "surge-simple") {
      auto model = train::loadSurgeModel(p.string());
      const auto& c = model->config();
      auto it = std::find_if(surgeGroups.begin(), surgeGroups.end(), [&](const SurgeGroup& g) {
        return g.cfg.sampleRate == c.sampleRate && g.cfg.seconds == c.seconds;
      });
      if (it == surgeGroups.end()) {
        surgeGroups.push_back(SurgeGroup{c, {}, {}});
        it = surgeGroups.end() - 1;
      }
      SurgeEntry e;
      e.file = p.filename().string();
      e.label = models::toString(c.kind);
      e.model = std::move(model);
      it->entries.push_back(std::move(e));
      continue;
    }
    auto model = train::loadKOscModel(p.string());
    const auto& c = model->config();
    auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& g) { return g.k == c.k && g.variant == c.variant; });
    if (it == groups.end()) {
      groups.push_back(Group{c.k, c.variant, {}, {}});
      it = groups.end() - 1;
    }
    Entry e;
    e.file = p.filename().string();
    e.label = models::toString(c.kind) + " (" + models::toString(c.encoder) + ")";
    e.model = std::move(model);
    it->entries.push_back(std::move(e));
  }
  std::sort(groups.begin(), groups.end(), [](const Group& x, const Group& y) {
    return std::make_pair(x.k, int(x.variant)) < std::make_pair(y.k, int(y.variant));
  });
  std::cerr << "demo: " << paths.size() << " models from " << dir << ", " << groups.size() + surgeGroups.size()
            << " task settings\n";
  const auto t0 = std::chrono::steady_clock::now();
  for (auto& g : groups) runGroup(g, a, so);
  for (auto& g : surgeGroups) runSurgeGroup(g, a, so);
  for (const auto& g : groups) printTable(g, std::cout);
  for (const auto& g : surgeGroups) printSurgeTable(g, std::cout);
  FileList files;
  const std::string index = page(groups, surgeGroups, a, files);
  fs::create_directories(fs::path(a.out) / "img", ec);
  if (!ec) fs::create_directories(fs::path(a.out) / "audio", ec);
  if (!ec && !surgeGroups.empty()) fs::create_directories(fs::path(a.out) / "params", ec);
  if (ec) throw Error("--out " + a.out + ": cannot create the folder (" + ec.message() + ")");
  for (const auto& [rel, bytes] : files) {
    io::AtomicFileWriter w(a.out + "/" + rel);
    w.write(bytes.data(), bytes.size());
    w.commit();
  }
  io::AtomicFileWriter w(a.out + "/index.html");
  w.write(index.data(), index.size());
  w.commit();
  std::cout << "\nwrote " << a.out << "/index.html (" << files.size() << " images, sounds and parameter files beside it) in "
            << fixed(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1) << " s\n";
}

symflow::cli::RegisterCommand reg(
    "demo", "Invert held-out sounds with every shipped model (k-osc, surge-simple); print tables, write an HTML page",
    [](CLI::App& app) {
      auto a = std::make_shared<DemoArgs>();
      app.add_option("--models", a->models, "Folder of *.safetensors models (default: ./models, else the source tree's)");
      app.add_option("--out", a->out, "Output folder of the page")->capture_default_str();
      app.add_option("--sounds", a->sounds, "Held-out sounds per k-osc setting (table)")->capture_default_str();
      app.add_option("--surge-sounds", a->surgeSounds, "Held-out sounds per surge-simple setting (table)")
          ->capture_default_str();
      app.add_option("--show", a->show, "Sounds shown on the page with audio and images")->capture_default_str();
      app.add_option("--samples,-n", a->samples, "Candidates per sound for flows and random (best by LSD, surge: MSS)")->capture_default_str();
      app.add_option("--steps", a->steps, "ODE solver steps")->capture_default_str();
      app.add_option("--cfg,--guidance", a->guidance, "Classifier-free guidance weight")->capture_default_str();
      app.add_option("--solver", a->solver, "ODE solver: euler, midpoint, heun or rk4")->capture_default_str();
      app.add_option("--seed", a->seed, "Seed of the sampling noise")->capture_default_str()->transform(cli::nonNegativeInteger());
      app.add_option("--threads", a->threads, "OpenMP threads (0: default)");
      app.callback([a] { run(*a); });
    });

}  // namespace
