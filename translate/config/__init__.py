"""Typed configuration: dataclasses loaded from YAML, with dotted ``--set`` overrides, checked before any work.

- schema.py: the dataclasses (one per section, rooted at ``Config``) and the choice types (``Literal``);
- load.py: building a Config from dicts, YAML files, presets (``base:`` chains) and ``--set`` overrides;
- checks.py: ``validate`` (run on every config built) and the run-length checks the trainer repeats.

Only ``build_*`` functions read these objects; networks and losses take plain arguments. Import from
``translate.config``: this is the package's one public face.
"""
from translate.config.checks import (DIFFAUG_OPS, SANTA_IGNORES, SIZE_BOUNDS, check_coop_fits, check_decay,
                                     coop_steps, parse_diffaug, validate)
from translate.config.load import (CONFIG_DIR, config_from_dict, config_to_dict, load_config, load_preset,
                                   load_yaml, merge, parse_override, resolve_config_path, save_config)
from translate.config.schema import (Background, Config, CoopConfig, DataConfig, DistBackend, EvalConfig, Features,
                                     FigureName, GanMode, GSkip, MetricName, ModelConfig, ModelName, NceNegatives,
                                     PatchSelect, Precision, Preprocess, SantaConfig, SwitchPolicy, SyntheticConfig,
                                     TrainConfig, choices)

__all__ = [
    "DIFFAUG_OPS", "SANTA_IGNORES", "SIZE_BOUNDS", "check_coop_fits", "check_decay", "coop_steps", "parse_diffaug", "validate",
    "CONFIG_DIR", "config_from_dict", "config_to_dict", "load_config", "load_preset", "load_yaml", "merge",
    "parse_override", "resolve_config_path", "save_config",
    "Background", "Config", "CoopConfig", "DataConfig", "DistBackend", "EvalConfig", "Features", "FigureName", "GanMode",
    "GSkip", "MetricName", "ModelConfig", "ModelName", "NceNegatives", "PatchSelect", "Precision", "Preprocess",
    "SantaConfig", "SwitchPolicy", "SyntheticConfig", "TrainConfig", "choices",
]
