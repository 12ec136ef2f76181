// symflow/optim/schedule.hpp - learning-rate schedules: lr(step).
//
// A schedule is a pure function of the step index s = 0, 1, 2, ... (the number of
// optimizer steps already taken; lr(s) is the rate of step s + 1). Its only state is
// therefore s itself, which a checkpoint stores (Adam::stepCount() or the trainer's step).
//
// CosineSchedule(peak, warmup W, total T, floor): linear warm-up, then half a cosine:
//   s <  W:       lr = peak * (s + 1) / W                    (peak / W, ..., peak)
//   W <= s <  T:  p = (s - W) / (T - W)
//                 lr = floor + (peak - floor) * (1 + cos(pi p)) / 2   (peak ... > floor)
//   s >= T:       lr = floor
// So lr(W - 1) = peak, lr(W) = peak (if T > W), lr(T) = floor; non-decreasing before W,
// non-increasing after. W = 0 starts at peak without warm-up.
//
// ConstantSchedule(lr): lr(s) = lr.
#pragma once
#include <cmath>
#include <cstdint>

#include "symflow/core/types.hpp"

namespace symflow::optim {

class CosineSchedule {
 public:
  CosineSchedule(double peakLr, std::int64_t warmupSteps, std::int64_t totalSteps, double floorLr = 0.0)
      : peak_(peakLr), floor_(floorLr), warmup_(warmupSteps), total_(totalSteps) {
    require(std::isfinite(peakLr) && peakLr >= 0, "CosineSchedule: peak lr must be finite and >= 0");
    require(std::isfinite(floorLr) && floorLr >= 0 && floorLr <= peakLr,
            "CosineSchedule: floor lr must be in [0, peak lr]");
    require(warmupSteps >= 0, "CosineSchedule: warm-up steps must be >= 0");
    require(totalSteps >= warmupSteps, "CosineSchedule: total steps must be >= warm-up steps");
  }

  double lr(std::int64_t step) const {
    require(step >= 0, "CosineSchedule: negative step");
    if (step < warmup_) return peak_ * double(step + 1) / double(warmup_);
    if (step >= total_) return floor_;
    const double progress = double(step - warmup_) / double(total_ - warmup_);
    return floor_ + (peak_ - floor_) * 0.5 * (1.0 + std::cos(3.14159265358979323846 * progress));
  }
  double operator()(std::int64_t step) const { return lr(step); }

  double peakLr() const { return peak_; }
  double floorLr() const { return floor_; }
  std::int64_t warmupSteps() const { return warmup_; }
  std::int64_t totalSteps() const { return total_; }

 private:
  double peak_, floor_;
  std::int64_t warmup_, total_;
};

class ConstantSchedule {
 public:
  explicit ConstantSchedule(double lr) : lr_(lr) {
    require(std::isfinite(lr) && lr >= 0, "ConstantSchedule: lr must be finite and >= 0");
  }
  double lr(std::int64_t /*step*/) const { return lr_; }
  double operator()(std::int64_t /*step*/) const { return lr_; }

 private:
  double lr_;
};

}  // namespace symflow::optim
