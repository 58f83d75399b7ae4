"""The `analyze` section of params.yaml: how the analyze stage draws."""
from pydantic import Field

from hsvae.core.config import Section


class AnalyzeSettings(Section):
    window: int = Field(32, ge=1, description="dimensions shown in the γ heat map for wide latents (the "
                        "contiguous window whose values differ most between classes)")
