// symflow/core/assignment.hpp - exact linear sum assignment (minimum-cost matching).
//
// Input:  cost, an n x m dense matrix (any Eigen column-major matrix or block), finite.
// Output: Assignment{colOfRow, rowOfCol, cost}:
//           n <= m: every row i gets a distinct column colOfRow[i], minimizing
//                   sum_i cost(i, colOfRow[i]); columns left over have rowOfCol[j] = -1.
//           n >  m: every column gets a distinct row (the transposed problem); rows left
//                   over have colOfRow[i] = -1.
//         For n == m, colOfRow is a permutation and rowOfCol its inverse.
//         cost is the optimal total, summed in double.
//
// Method: shortest augmenting paths with row/column potentials (the Jonker-Volgenant family,
// as in Crouse, "On implementing 2D rectangular assignment algorithms", IEEE TAES 2016):
// one Dijkstra search in reduced costs c(i, j) - u(i) - v(j) >= 0 per unassigned row,
// then the potentials are updated and the path flipped. Square problems start from JV's
// column reduction (v(j) = min_i c(i, j), each column given to its minimizing row when that
// row is still free), so for typical matrices most rows are matched before any search.
// Worst case O(n^2 m); the search's inner loop (relax a row, find the nearest column) is one
// xsimd pass over contiguous memory. Internally the smaller side plays "rows" and each of
// them must be a contiguous line, so a column-major n x m input with n >= m is used in place
// (its columns are the search rows) and one with n < m is transposed into a work buffer.
// Arithmetic is in the cost's scalar type (float costs: optimal up to float rounding).
//
// Non-finite entries (inf, NaN) are refused with symflow::Error. Negative costs are fine.
// AssignmentSolver keeps its work buffers between calls (e.g. one per thread when matching
// many small problems); linearSumAssignment() is the one-shot form.
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>
#include <xsimd/xsimd.hpp>

#include "symflow/core/types.hpp"

namespace symflow {

struct Assignment {
  std::vector<Index> colOfRow;  // row i -> column (or -1 when n > m and row i is unused)
  std::vector<Index> rowOfCol;  // column j -> row (or -1 when n < m and column j is unused)
  double cost = 0;              // sum of the matched costs
};

template <class S> class AssignmentSolver {
 public:
  using Batch = xsimd::batch<S>;

  Assignment solve(const CMatRef<S>& cost) {
    Assignment out;
    solve(cost, out);
    return out;
  }

  void solve(const CMatRef<S>& cost, Assignment& out) {
    const Index n = cost.rows(), m = cost.cols();
    if (!(n > 0 && m > 0)) throw Error("linear assignment: the cost matrix is empty");
    if (!cost.allFinite()) throw Error("linear assignment: the cost matrix has a non-finite entry "
            "(inf or NaN); costs must be finite");
    out.colOfRow.assign(size_t(n), -1);
    out.rowOfCol.assign(size_t(m), -1);
    // The search rows are the smaller side; each must be a contiguous line of `lines` values.
    const bool colsAreSearchRows = n >= m;
    const Index rows = colsAreSearchRows ? m : n;
    const Index lines = colsAreSearchRows ? n : m;
    const S* data;
    Index stride;
    if (colsAreSearchRows) {
      data = cost.data();
      stride = cost.outerStride();
    } else {
      transposed_ = cost.transpose();
      data = transposed_.data();
      stride = transposed_.outerStride();
    }
    // Row and column numbers are carried in S lanes (pred_, colIndex_): exact below 2^digits.
    if (lines >= (Index(1) << std::numeric_limits<S>::digits))
      throw Error("linear assignment: matrix too large for this scalar type's index lanes");
    run(data, stride, rows, lines);
    // Search row r was matched to search column colOf_[r].
    double total = 0;
    for (Index r = 0; r < rows; ++r) {
      const Index c = colOf_[size_t(r)];
      const Index i = colsAreSearchRows ? c : r;
      const Index j = colsAreSearchRows ? r : c;
      out.colOfRow[size_t(i)] = j;
      out.rowOfCol[size_t(j)] = i;
      total += double(cost(i, j));
    }
    out.cost = total;
  }

 private:
  static constexpr S inf() { return std::numeric_limits<S>::infinity(); }

  // rows x lines problem, row r = data[r * stride + 0 .. lines), rows <= lines.
  void run(const S* data, Index stride, Index rows, Index lines) {
    const Index W = Index(Batch::size);
    const Index padded = (lines + W - 1) / W * W;
    u_.assign(size_t(rows), S(0));
    v_.assign(size_t(padded), S(0));
    colOf_.assign(size_t(rows), -1);
    rowOf_.assign(size_t(lines), -1);
    shortest_.assign(size_t(padded), inf());
    pred_.assign(size_t(padded), S(0));
    dist_.assign(size_t(lines), S(0));
    colIndex_.resize(size_t(padded));
    freeCol_.assign(size_t(padded), S(0));
    for (Index j = 0; j < lines; ++j) freeCol_[size_t(j)] = S(1);
    for (Index j = 0; j < padded; ++j) colIndex_[size_t(j)] = S(j);
    // Padding columns never win: shortest stays -inf there (see relax()).
    for (Index j = lines; j < padded; ++j) shortest_[size_t(j)] = -inf();

    if (rows == lines) columnReduction(data, stride, rows);

    for (Index start = 0; start < rows; ++start) {
      if (colOf_[size_t(start)] >= 0) continue;
      augment(data, stride, start, lines, padded);
    }
  }

  // JV column reduction: v(j) = min_i c(i, j); column j goes to that row if it is free.
  // Keeps u = 0 and c(i, j) - v(j) >= 0 everywhere (valid for square problems only).
  void columnReduction(const S* data, Index stride, Index n) {
    for (Index j = 0; j < n; ++j) v_[size_t(j)] = inf();
    std::vector<Index>& argmin = visitedRows_;  // reuse a buffer
    argmin.assign(size_t(n), 0);
    for (Index i = 0; i < n; ++i) {
      const S* row = data + i * stride;
      for (Index j = 0; j < n; ++j)
        if (row[j] < v_[size_t(j)]) {
          v_[size_t(j)] = row[j];
          argmin[size_t(j)] = i;
        }
    }
    for (Index j = n - 1; j >= 0; --j) {
      const Index i = argmin[size_t(j)];
      if (colOf_[size_t(i)] < 0) {
        colOf_[size_t(i)] = j;
        rowOf_[size_t(j)] = i;
        freeCol_[size_t(j)] = S(0);
      }
    }
  }

  // One Dijkstra search from the free row `start` to the nearest free column, then update
  // the potentials of the visited rows/columns and flip the path.
  void augment(const S* data, Index stride, Index start, Index lines, Index padded) {
    visitedRows_.clear();
    visitedCols_.clear();
    S minVal = S(0);
    Index row = start;
    Index sink = -1;
    while (sink < 0) {
      visitedRows_.push_back(row);
      Index col;
      S lowest;
      relax(data + row * stride, u_[size_t(row)], minVal, S(row), padded, col, lowest);
      if (col < 0 || !(lowest < inf())) throw Error("linear assignment: no feasible assignment");
      minVal = lowest;
      dist_[size_t(col)] = lowest;
      shortest_[size_t(col)] = -inf();  // mark visited
      visitedCols_.push_back(col);
      if (rowOf_[size_t(col)] < 0)
        sink = col;
      else
        row = rowOf_[size_t(col)];
    }
    // Potentials: keeps reduced costs >= 0 and zero on matched pairs.
    u_[size_t(start)] += minVal;
    for (size_t q = 1; q < visitedRows_.size(); ++q) {
      const Index r = visitedRows_[q];
      u_[size_t(r)] += minVal - dist_[size_t(colOf_[size_t(r)])];
    }
    for (Index c : visitedCols_) v_[size_t(c)] -= minVal - dist_[size_t(c)];
    // Flip the alternating path ending at sink (the only column that changes status).
    freeCol_[size_t(sink)] = S(0);
    Index j = sink;
    for (;;) {
      const Index i = Index(pred_[size_t(j)]);
      rowOf_[size_t(j)] = i;
      const Index prev = colOf_[size_t(i)];
      colOf_[size_t(i)] = j;
      if (i == start) break;
      j = prev;
    }
    // Reset labels for the next search.
    for (Index c = 0; c < lines; ++c) shortest_[size_t(c)] = inf();
  }

  // Relax all unvisited columns from `row` (distance so far minVal) and return the unvisited
  // column with the smallest label. Visited (and padding) columns hold -inf, so `d < label`
  // never updates them, and they are excluded from the minimum.
  void relax(const S* row, S ui, S minVal, S rowTag, Index padded, Index& bestCol, S& bestVal) {
    const Index W = Index(Batch::size);
    const Index lines = Index(rowOf_.size());
    const Batch offset(minVal - ui), rowB(rowTag), infB(inf()), ninfB(-inf());
    Batch best(inf()), bestIdx(S(-1)), bestFree(S(0));
    Index j = 0;
    for (; j + W <= lines; j += W) {
      const Batch c = Batch::load_unaligned(row + j);
      step(c, j, offset, rowB, infB, ninfB, best, bestIdx, bestFree);
    }
    if (j < padded) {  // last partial block: padding entries 0 (their labels are -inf, unused)
      alignas(64) S tmp[64];
      for (Index q = 0; q < W; ++q) tmp[q] = j + q < lines ? row[j + q] : S(0);
      step(Batch::load_aligned(tmp), j, offset, rowB, infB, ninfB, best, bestIdx, bestFree);
    }
    alignas(64) S vals[64], idx[64];
    best.store_aligned(vals);
    bestIdx.store_aligned(idx);
    bestVal = inf();
    bestCol = -1;
    for (Index q = 0; q < W; ++q) {
      if (idx[q] < S(0)) continue;
      const Index c = Index(idx[q]);
      // Smallest label; on ties prefer a free column (ends the search), then the lower index.
      const bool better =
          vals[q] < bestVal ||
          (vals[q] == bestVal && bestCol >= 0 &&
           ((rowOf_[size_t(c)] < 0) > (rowOf_[size_t(bestCol)] < 0) ||
            ((rowOf_[size_t(c)] < 0) == (rowOf_[size_t(bestCol)] < 0) && c < bestCol)));
      if (better) {
        bestVal = vals[q];
        bestCol = c;
      }
    }
  }

  inline void step(const Batch& c, Index j, const Batch& offset, const Batch& rowB,
                   const Batch& infB, const Batch& ninfB, Batch& best, Batch& bestIdx,
                   Batch& bestFree) {
    const Batch v = Batch::load_unaligned(v_.data() + j);
    Batch label = Batch::load_unaligned(shortest_.data() + j);
    const Batch d = (c - v) + offset;
    const auto better = d < label;
    label = xsimd::select(better, d, label);
    label.store_unaligned(shortest_.data() + j);
    xsimd::select(better, rowB, Batch::load_unaligned(pred_.data() + j))
        .store_unaligned(pred_.data() + j);
    const Batch candidate = xsimd::select(label == ninfB, infB, label);
    // Per lane: smallest label; among equal labels prefer a free column (it ends the search:
    // with many ties, e.g. integer costs, this keeps searches short).
    const Batch isFree = Batch::load_unaligned(freeCol_.data() + j);
    const auto lower = (candidate < best) || ((candidate == best) && (isFree > bestFree));
    best = xsimd::select(lower, candidate, best);
    bestFree = xsimd::select(lower, isFree, bestFree);
    bestIdx = xsimd::select(lower, Batch::load_unaligned(colIndex_.data() + j), bestIdx);
  }

  Mat<S> transposed_;
  std::vector<S> u_, v_, shortest_, pred_, dist_, colIndex_;
  std::vector<S> freeCol_;  // 1 for a free column, 0 for a matched one or padding
  std::vector<Index> colOf_, rowOf_, visitedRows_, visitedCols_;
};

/// Exact minimum-cost assignment of a dense cost matrix (see the header comment).
template <class S> Assignment linearSumAssignment(const CMatRef<S>& cost) {
  AssignmentSolver<S> solver;
  return solver.solve(cost);
}
inline Assignment linearSumAssignment(const Mat<double>& cost) {
  return linearSumAssignment<double>(cost);
}
inline Assignment linearSumAssignment(const Mat<float>& cost) {
  return linearSumAssignment<float>(cost);
}

}  // namespace symflow
