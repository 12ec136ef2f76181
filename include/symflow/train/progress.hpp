// symflow/train/progress.hpp - progress reporting and metric logging for long jobs.
//
// Progress prints one line per report interval to a stream (stderr by default):
//   "[train] step 1200/20000 (6.0%)  loss 0.4123  1.9 steps/s  1946 samples/s  eta 2h43m"
// with an exponential moving average of the loss. When the stream is a terminal the line
// is rewritten in place (\r); otherwise each report is a new line (logs stay readable).
// MetricLog appends one JSON object per line (JSON Lines) to a file and flushes it, so a
// killed job keeps every line it wrote.
#pragma once
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

#include "symflow/core/types.hpp"

namespace symflow::train {

inline std::string formatDuration(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) return "?";
  long s = long(seconds + 0.5);
  std::ostringstream o;
  if (s >= 3600) o << s / 3600 << "h" << std::setw(2) << std::setfill('0') << (s % 3600) / 60 << "m";
  else if (s >= 60) o << s / 60 << "m" << std::setw(2) << std::setfill('0') << s % 60 << "s";
  else o << s << "s";
  return o.str();
}

class Progress {
 public:
  using Clock = std::chrono::steady_clock;
  Progress(std::string tag, long totalSteps, long batchSize, double intervalSeconds = 2.0,
           FILE* out = stderr)
      : tag_(std::move(tag)), total_(totalSteps), batch_(batchSize), interval_(intervalSeconds),
        out_(out), tty_(out && isatty(fileno(out))) {
    start_ = last_ = startStep_ = Clock::now();
  }
  /// Call once per step; prints when the interval has passed (or at the last step).
  void update(long step, double loss, const std::string& extra = "") {
    ema_ = haveEma_ ? 0.98 * ema_ + 0.02 * loss : loss;
    haveEma_ = true;
    const auto now = Clock::now();
    const double since = std::chrono::duration<double>(now - last_).count();
    if (since < interval_ && step != total_) return;
    last_ = now;
    print(step, extra, false);
  }
  void setStartStep(long step) {  // when resuming: rates are measured from here
    firstStep_ = step;
    startStep_ = Clock::now();
  }
  void finish(long step, const std::string& extra = "") { print(step, extra, true); }
  double elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  double emaLoss() const { return ema_; }

 private:
  void print(long step, const std::string& extra, bool final) {
    if (!out_) return;
    const double el = std::chrono::duration<double>(Clock::now() - startStep_).count();
    const long done = step - firstStep_ + 1;
    const double rate = el > 0 ? double(done) / el : 0;
    std::ostringstream o;
    o << "[" << tag_ << "] step " << step;
    if (total_ > 0) o << "/" << total_ << " (" << std::fixed << std::setprecision(1) << 100.0 * step / total_ << "%)";
    o << "  loss " << std::setprecision(4) << ema_ << "  " << std::setprecision(2) << rate << " steps/s  "
      << std::setprecision(0) << rate * batch_ << " samples/s";
    if (total_ > 0 && rate > 0 && !final) o << "  eta " << formatDuration(double(total_ - step) / rate);
    if (final) o << "  done in " << formatDuration(elapsed());
    if (!extra.empty()) o << "  " << extra;
    std::fprintf(out_, tty_ && !final ? "\r%s\033[K" : "%s\n", o.str().c_str());
    std::fflush(out_);
  }
  std::string tag_;
  long total_, batch_;
  double interval_;
  FILE* out_;
  bool tty_;
  Clock::time_point start_, last_, startStep_;
  long firstStep_ = 1;  // rates count the steps from this one (setStartStep when resuming)
  double ema_ = 0;
  bool haveEma_ = false;
};

/// Appends {"key": value, ...} lines to a JSON Lines file.
class MetricLog {
 public:
  MetricLog() = default;
  explicit MetricLog(const std::string& path, bool append = true) { open(path, append); }
  void open(const std::string& path, bool append = true) {
    f_.open(path, append ? std::ios::app : std::ios::trunc);
    require(bool(f_), "cannot open log file " + path);
  }
  bool isOpen() const { return f_.is_open(); }
  void write(const std::vector<std::pair<std::string, double>>& values) {
    if (!f_.is_open()) return;
    f_ << "{";
    for (size_t i = 0; i < values.size(); ++i) {
      if (i) f_ << ", ";
      f_ << '"' << values[i].first << "\": ";
      if (std::isfinite(values[i].second)) f_ << std::setprecision(9) << values[i].second;
      else f_ << "null";
    }
    f_ << "}\n";
    f_.flush();
  }

 private:
  std::ofstream f_;
};

}  // namespace symflow::train
