import os

# Hypothesis: deterministic in CI so a red run can be reproduced; no deadline (shared 2-core box).
from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=30, print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=30)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
