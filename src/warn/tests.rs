//! Unit tests of the warning core (codec, loader errors, evaluation).

use super::*;
