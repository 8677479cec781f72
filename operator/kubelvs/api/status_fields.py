"""Status field names as the API server stores them, read off the status models' aliases once.

The operator and the agents build and read status dicts directly (per object per pass, where a model dump
would cost more than the write it decides on); these names keep those dicts the models' own.
"""

from __future__ import annotations

from pydantic import BaseModel

from kubelvs.api.models import Condition, RealServerStatus, VirtualServerStatus


def _alias(model: type[BaseModel], name: str) -> str:
    return model.model_fields[name].alias or name


OBSERVED_GENERATION = _alias(VirtualServerStatus, "observed_generation")
CONDITIONS = _alias(VirtualServerStatus, "conditions")
ACTIVE_DIRECTOR = _alias(VirtualServerStatus, "active_director")
PROGRAMMED_GENERATION = _alias(VirtualServerStatus, "programmed_generation")
READY_REAL_SERVERS = _alias(VirtualServerStatus, "ready_real_servers")
TOTAL_REAL_SERVERS = _alias(VirtualServerStatus, "total_real_servers")
READY = _alias(VirtualServerStatus, "ready")
HEALTH = _alias(RealServerStatus, "health")
EFFECTIVE_WEIGHT = _alias(RealServerStatus, "effective_weight")
LAST_TRANSITION_TIME = _alias(Condition, "last_transition_time")
