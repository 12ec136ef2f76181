// symflow/symflow.hpp - umbrella header: includes every public part of the library.
#pragma once
#include "symflow/core/types.hpp"
#include "symflow/core/rng.hpp"
#include "symflow/core/params.hpp"
#include "symflow/core/init.hpp"
#include "symflow/nn/linear.hpp"
#include "symflow/testing/gradcheck.hpp"
