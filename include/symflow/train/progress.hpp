// symflow/train/progress.hpp - progress reporting and metric logging for long jobs.
//
// Progress prints one line per report interval to a stream (stderr by default):
//   "[train] step 1200/20000 (6.0%)  loss 0.4123  1.9 steps/s  1946 samples/s  eta 2h43m"
// with an exponential moving average of the loss. When the stream is a terminal the line
// is rewritten in place (\r); otherwise each report is a new line (logs stay readable).
// MetricLog appends one JSON object per line (JSON Lines) to a file and flushes it, so a
// killed job keeps every line it wrote.
// CsvLog writes the same rows as CSV: a header line of column names once, then one line of
// numbers per row (flushed; non-finite values as nan, inf, -inf). Appending to a file that
// already has a header checks that header against the columns and does not repeat it.
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

/// Appends rows of numbers to a CSV file with a fixed list of columns:
///   step,loss,...          (header, written once, when the file is new or empty)
///   10,0.5123,...          (one line per write, same column order)
/// write() takes the same (name, value) pairs as MetricLog::write and requires the names to
/// be the columns, in order, so both logs can be fed the same row.
class CsvLog {
 public:
  CsvLog() = default;
  CsvLog(const std::string& path, std::vector<std::string> columns, bool append = true) {
    open(path, std::move(columns), append);
  }
  /// append = false truncates the file. append = true keeps what is there: a non-empty file
  /// must start with exactly this header line (Error otherwise, naming both); a last line
  /// cut short by a killed job is ended with a newline first.
  void open(const std::string& path, std::vector<std::string> columns, bool append = true) {
    require(!columns.empty(), "CsvLog: no columns for " + path);
    for (const auto& c : columns)
      require(!c.empty() && c.find_first_of(",\"\r\n") == std::string::npos,
              "CsvLog: column name '" + c + "' is empty or needs quoting");
    columns_ = std::move(columns);
    std::string header;
    for (size_t i = 0; i < columns_.size(); ++i) header += (i ? "," : "") + columns_[i];
    bool needHeader = true, needNewline = false;
    if (append) {
      std::ifstream in(path, std::ios::binary);
      std::string first;
      if (in && std::getline(in, first)) {
        if (!first.empty() && first.back() == '\r') first.pop_back();
        require(first == header, "log file " + path + " has columns '" + first + "', expected '" + header +
                                     "' (move it away or start without --resume)");
        needHeader = false;
        in.clear();
        in.seekg(-1, std::ios::end);
        char last = '\n';
        if (in.get(last)) needNewline = last != '\n';
      }
    }
    f_.open(path, append ? std::ios::app : std::ios::trunc);
    require(bool(f_), "cannot open log file " + path);
    if (needNewline) f_ << "\n";
    if (needHeader) f_ << header << "\n";
    f_.flush();
  }
  bool isOpen() const { return f_.is_open(); }
  const std::vector<std::string>& columns() const { return columns_; }
  void write(const std::vector<std::pair<std::string, double>>& values) {
    if (!f_.is_open()) return;
    require(values.size() == columns_.size(), "CsvLog: a row has " + std::to_string(values.size()) +
                                                  " values for " + std::to_string(columns_.size()) + " columns");
    for (size_t i = 0; i < values.size(); ++i) {
      require(values[i].first == columns_[i],
              "CsvLog: value '" + values[i].first + "' given for column '" + columns_[i] + "'");
      if (i) f_ << ",";
      const double v = values[i].second;
      if (std::isnan(v)) f_ << "nan";
      else if (std::isinf(v)) f_ << (v > 0 ? "inf" : "-inf");
      else f_ << std::setprecision(9) << v;
    }
    f_ << "\n";
    f_.flush();
  }

 private:
  std::vector<std::string> columns_;
  std::ofstream f_;
};

}  // namespace symflow::train
