"""The graduation policy: versioned data files, and the choice of the one in force."""

from sanzheng_shared.policy.loader import PolicyBook, PolicyError, load_file
from sanzheng_shared.policy.model import LEVELS, GraduationPolicy, Requirement

__all__ = ["LEVELS", "GraduationPolicy", "PolicyBook", "PolicyError", "Requirement", "load_file"]
