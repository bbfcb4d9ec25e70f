"""Shared settings of the property suite: a fast default profile; the long sweep is ``-m slow``."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "infossl-default", max_examples=int(os.environ.get("INFOSSL_PROPS_EXAMPLES", "15")), deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    derandomize=True, database=None, print_blob=True)
settings.load_profile("infossl-default")
