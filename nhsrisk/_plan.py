"""Turn a Scenario into the flat arrays the kernel reads.

Each random stream is named by its key path (``"risks.digital_exclusion"``;
per-year streams add the year: ``"risks.raid_fraction[2025/26]"``), and its
Philox key is derived from the seed and that name, so adding or reordering
inputs never changes the draws of the others.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from nhsrisk import _kernels as K
from nhsrisk._rng import stream_key
from nhsrisk._sampling import FIXED, N_PARAMS
from nhsrisk.distributions import Distribution, Fixed, Uniform
from nhsrisk.scenario import (
    PatientChannel,
    Programme,
    Quantity,
    Risks,
    Scenario,
    StaffEffect,
    StaffGroup,
)

_RISK_SLOTS = {
    "raid_probability": K.RAID_PROBABILITY,
    "cost_overrun": K.COST_OVERRUN,
    "black_swan": K.BLACK_SWAN,
    "black_swan_overrun": K.BLACK_SWAN_OVERRUN,
    "delivery_delay": K.DELIVERY_DELAY,
    "digital_exclusion": K.DIGITAL_EXCLUSION,
    "staff_capacity": K.STAFF_CAPACITY,
    "social_care_leakage": K.SOCIAL_CARE_LEAKAGE,
    "funding_elasticity": K.FUNDING_ELASTICITY,
    "redeployment_fraction": K.REDEPLOYMENT_FRACTION,
}
_PROGRAMME_SLOTS = {
    "raid_exposure": K.RAID_EXPOSURE,
    "uptake_ceiling": K.UPTAKE_CEILING,
    "uptake_midpoint": K.UPTAKE_MIDPOINT,
    "uptake_steepness": K.UPTAKE_STEEPNESS,
    "realisation_lag": K.REALISATION_LAG,
    "benefit_decay": K.BENEFIT_DECAY,
    "cash_releasing_fraction": K.CASH_RELEASING_FRACTION,
    "social_care_share": K.SOCIAL_CARE_SHARE,
}
_PATIENT_SLOTS = {"contacts_per_year": K.CONTACTS_PER_YEAR, "value_per_contact": K.VALUE_PER_CONTACT}
_GROUP_SLOTS = {
    "fte": K.FTE,
    "hours_per_fte": K.HOURS_PER_FTE,
    "cost_per_hour": K.COST_PER_HOUR,
    "max_release_share": K.MAX_RELEASE_SHARE,
}
_ZERO = "(constant zero)"
_STANDARD_UNIFORM = Uniform(0.0, 1.0)


@dataclass(frozen=True)
class StoredInput:
    """An uncertain input kept in the results: variable name, year (if per-year) and quantity."""

    variable: str
    year: str | None
    quantity: Quantity
    unit: str
    doc: str


@dataclass
class Plan:
    """Everything the kernel needs except the seed-dependent stream keys."""

    stream_names: list[str]
    stream_distributions: list[Distribution]
    codes: np.ndarray
    params: np.ndarray
    table_rows: np.ndarray
    tables: np.ndarray
    store_rows: np.ndarray
    stored: list[StoredInput]
    risk_idx: np.ndarray
    year_idx: np.ndarray
    prog_idx: np.ndarray
    pg_idx: np.ndarray
    group_idx: np.ndarray
    planned_spend: np.ndarray
    last_funded: np.ndarray
    discount_factor: np.ndarray
    design_rows: np.ndarray
    copula_rows: np.ndarray
    copula_mixing: np.ndarray

    def keys(self, seed: int) -> np.ndarray:
        """Philox key words of every stream for ``seed``, shape (n_inputs, 2)."""
        return np.array([stream_key(seed, name) for name in self.stream_names], dtype=np.uint64).reshape(
            -1, 2
        )

    @property
    def uniforms_per_draw(self) -> int:
        """How many uniforms the kernel consumes per draw (one per non-fixed stream)."""
        return int(np.count_nonzero(self.codes != FIXED))


class _Builder:
    def __init__(self) -> None:
        self.names: list[str] = []
        self.specs: list[tuple[int, np.ndarray, np.ndarray | None]] = []
        self.distributions: list[Distribution] = []
        self.stored_rows: list[int] = []
        self.stored: list[StoredInput] = []
        self.index: dict[str, int] = {}

    def add(
        self,
        name: str,
        distribution: Distribution,
        stored: StoredInput | None,
    ) -> int:
        if name in self.index:
            return self.index[name]
        self.index[name] = len(self.names)
        self.names.append(name)
        self.specs.append(distribution.kernel_spec())
        self.distributions.append(distribution)
        if stored is not None and not distribution.is_fixed:
            self.stored_rows.append(len(self.stored))
            self.stored.append(stored)
        else:
            self.stored_rows.append(-1)
        return self.index[name]

    def add_quantity(self, name: str, quantity: Quantity, record_type: type, field_name: str) -> int:
        meta = {f.name: f.metadata for f in fields(record_type)}[field_name]
        stored = StoredInput(name, None, quantity, meta.get("unit", ""), meta.get("doc", field_name))
        return self.add(name, quantity.distribution, stored)


def build_plan(scenario: Scenario) -> Plan:
    """Flatten ``scenario`` into kernel arrays (see :mod:`nhsrisk._kernels` for the slots)."""
    b = _Builder()
    zero = b.add(_ZERO, Fixed(0.0), None)
    years = scenario.years
    n_year = len(years)
    programmes = list(scenario.programmes.items())
    groups = list(scenario.staff_groups.items())

    risk_idx = np.empty(K.N_RISK_SLOTS, dtype=np.int64)
    for field_name, slot in _RISK_SLOTS.items():
        quantity = getattr(scenario.risks, field_name)
        risk_idx[slot] = b.add_quantity(f"risks.{field_name}", quantity, Risks, field_name)

    year_idx = np.empty((n_year, 2), dtype=np.int64)
    raid_fraction = scenario.risks.raid_fraction
    fraction_meta = {f.name: f.metadata for f in fields(Risks)}["raid_fraction"]
    for t, year in enumerate(years):
        year_idx[t, K.RAID_EVENT] = b.add(f"risks.raid_event[{year}]", _STANDARD_UNIFORM, None)
        stored = StoredInput(
            "risks.raid_fraction", year, raid_fraction, fraction_meta["unit"], fraction_meta["doc"]
        )
        year_idx[t, K.RAID_FRACTION] = b.add(
            f"risks.raid_fraction[{year}]", raid_fraction.distribution, stored
        )

    group_idx = np.empty((len(groups), K.N_GROUP_SLOTS), dtype=np.int64)
    for g, (gid, group) in enumerate(groups):
        for field_name, slot in _GROUP_SLOTS.items():
            group_idx[g, slot] = b.add_quantity(
                f"staff_groups.{gid}.{field_name}", getattr(group, field_name), StaffGroup, field_name
            )

    prog_idx = np.full((len(programmes), K.N_PROGRAMME_SLOTS), zero, dtype=np.int64)
    pg_idx = np.full((len(programmes), len(groups), 2), -1, dtype=np.int64)
    planned_spend = np.zeros((len(programmes), n_year))
    last_funded = np.zeros(len(programmes), dtype=np.int64)
    group_position = {gid: g for g, (gid, _) in enumerate(groups)}
    for p, (pid, programme) in enumerate(programmes):
        prefix = f"programmes.{pid}"
        for field_name, slot in _PROGRAMME_SLOTS.items():
            prog_idx[p, slot] = b.add_quantity(
                f"{prefix}.{field_name}", getattr(programme, field_name), Programme, field_name
            )
        if programme.patients is not None:
            for field_name, slot in _PATIENT_SLOTS.items():
                prog_idx[p, slot] = b.add_quantity(
                    f"{prefix}.patients.{field_name}",
                    getattr(programme.patients, field_name),
                    PatientChannel,
                    field_name,
                )
        for gid, effect in programme.staff.items():
            g = group_position[gid]
            pg_idx[p, g, K.ADDRESSABLE_SHARE] = b.add_quantity(
                f"{prefix}.staff.{gid}.addressable_share",
                effect.addressable_share,
                StaffEffect,
                "addressable_share",
            )
            pg_idx[p, g, K.RECOVERED_FRACTION] = b.add_quantity(
                f"{prefix}.staff.{gid}.recovered_fraction",
                effect.recovered_fraction,
                StaffEffect,
                "recovered_fraction",
            )
        planned_spend[p] = programme.spend.values
        funded = np.flatnonzero(planned_spend[p] > 0)
        last_funded[p] = funded[-1]

    rate = scenario.discount_rate.distribution.mean()
    discount_factor = (1.0 + rate) ** -np.arange(n_year, dtype=float)

    n_inputs = len(b.names)
    codes = np.array([spec[0] for spec in b.specs], dtype=np.int64)
    random = codes != FIXED
    design_rows = np.where(random, np.cumsum(random) - 1, -1).astype(np.int64)
    copula_rows, copula_mixing = _copula(scenario, b)
    params = np.zeros((n_inputs, N_PARAMS))
    table_width = max([2] + [len(s[2]) for s in b.specs if s[2] is not None])
    table_list = [s[2] for s in b.specs if s[2] is not None]
    tables = np.zeros((max(1, len(table_list)), table_width))
    table_rows = np.full(n_inputs, 0, dtype=np.int64)
    row = 0
    for k, (_, spec_params, table) in enumerate(b.specs):
        params[k] = spec_params
        if table is not None:
            tables[row, : len(table)] = table
            table_rows[k] = row
            row += 1
    return Plan(
        stream_names=b.names,
        stream_distributions=b.distributions,
        codes=codes,
        params=params,
        table_rows=table_rows,
        tables=tables,
        store_rows=np.array(b.stored_rows, dtype=np.int64),
        stored=b.stored,
        risk_idx=risk_idx,
        year_idx=year_idx,
        prog_idx=prog_idx,
        pg_idx=pg_idx,
        group_idx=group_idx,
        planned_spend=planned_spend,
        last_funded=last_funded,
        discount_factor=discount_factor,
        design_rows=design_rows,
        copula_rows=copula_rows,
        copula_mixing=copula_mixing,
    )


def _copula(scenario: Scenario, b: _Builder) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``inputs_out`` of the correlated inputs and the mixing matrix of their Gaussian copula."""
    correlations = scenario.correlations
    if correlations is None:
        return np.empty(0, dtype=np.int64), np.empty((0, 0))
    rows = np.array([b.stored_rows[b.index[name]] for name in correlations.inputs], dtype=np.int64)
    return rows, correlations.mixing_matrix()
