#include "corrections/corrections.hpp"
