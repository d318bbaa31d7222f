// Token log-likelihood, shared by `vkconvgpt-run perplexity` and the demo-model test.
#pragma once
#include <algorithm>
#include <cmath>

namespace vkc {

// -log softmax(row)[target] over a logits row [V], in double.
inline double token_nll(const float* row, int V, int target) {
    double mx = row[0];
    for (int i = 1; i < V; ++i) mx = std::max(mx, double(row[i]));
    double sum = 0;
    for (int i = 0; i < V; ++i) sum += std::exp(double(row[i]) - mx);
    return -(double(row[target]) - mx - std::log(sum));
}

} // namespace vkc
