"""Turn a Scenario into the flat arrays the kernel reads.

Each random stream is named by its key path (``"risks.digital_exclusion"``;
per-year streams add the year: ``"risks.raid_fraction[2025/26]"``), and its
Philox key is derived from the seed and that name, so adding or reordering
inputs never changes the draws of the others.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from nhsrisk import _model as M
from nhsrisk._rng import stream_key
from nhsrisk._sampling import FIXED, N_PARAMS
from nhsrisk._segments import Segments, build_segments
from nhsrisk.distributions import Distribution, Fixed, Uniform
from nhsrisk.scenario import (
    InclusionEffect,
    PatientChannel,
    Programme,
    Quantity,
    Risks,
    Scenario,
    StaffEffect,
    StaffGroup,
)

_ZERO = "(constant zero)"
#: The record type of each optional programme table (nhsrisk._model.OPTIONAL_TABLES names them).
_TABLE_RECORDS = {"patients": PatientChannel, "inclusion": InclusionEffect}
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
    budget_change: np.ndarray
    last_funded: np.ndarray
    discount_factor: np.ndarray
    residual_annuity: np.ndarray
    segment_weight: np.ndarray
    segment_quintile: np.ndarray
    segment_age: np.ndarray
    exclusion_table: np.ndarray
    inclusion_mask: np.ndarray
    distributional_uplift: np.ndarray
    segments: Segments
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
    """Flatten ``scenario`` into kernel arrays, in the slot order declared in :mod:`nhsrisk._model`."""
    b = _Builder()
    zero = b.add(_ZERO, Fixed(0.0), None)
    years = scenario.years
    n_year = len(years)
    programmes = list(scenario.programmes.items())
    groups = list(scenario.staff_groups.items())

    risk_idx = np.array(
        [
            b.add_quantity(f"risks.{name}", getattr(scenario.risks, name), Risks, name)
            for name in M.RISK_INPUTS
        ],
        dtype=np.int64,
    )

    year_idx = np.empty((n_year, len(M.YEAR_INPUTS)), dtype=np.int64)
    raid_fraction = scenario.risks.raid_fraction
    fraction_meta = {f.name: f.metadata for f in fields(Risks)}["raid_fraction"]
    for t, year in enumerate(years):
        year_idx[t, M.RAID_EVENT] = b.add(f"risks.raid_event[{year}]", _STANDARD_UNIFORM, None)
        stored = StoredInput(
            "risks.raid_fraction", year, raid_fraction, fraction_meta["unit"], fraction_meta["doc"]
        )
        year_idx[t, M.RAID_FRACTION] = b.add(
            f"risks.raid_fraction[{year}]", raid_fraction.distribution, stored
        )

    group_idx = np.array(
        [
            [
                b.add_quantity(f"staff_groups.{gid}.{name}", getattr(group, name), StaffGroup, name)
                for name in M.GROUP_INPUTS
            ]
            for gid, group in groups
        ],
        dtype=np.int64,
    ).reshape(len(groups), len(M.GROUP_INPUTS))

    prog_idx = np.full((len(programmes), len(M.PROGRAMME_SLOTS)), zero, dtype=np.int64)
    pg_idx = np.full((len(programmes), len(groups), len(M.PAIR_INPUTS)), -1, dtype=np.int64)
    group_position = {gid: g for g, (gid, _) in enumerate(groups)}
    for p, (pid, programme) in enumerate(programmes):
        prefix = f"programmes.{pid}"
        for name in M.PROGRAMME_INPUTS:
            prog_idx[p, M.PROGRAMME_SLOTS.index(name)] = b.add_quantity(
                f"{prefix}.{name}", getattr(programme, name), Programme, name
            )
        for table_name, slots in M.OPTIONAL_TABLES:
            record_type = _TABLE_RECORDS[table_name]
            table = getattr(programme, table_name)
            if table is None:
                continue
            for name in slots:
                quantity = getattr(table, name)
                if quantity is None:  # an optional key left out: the slot reads zero
                    continue
                prog_idx[p, M.PROGRAMME_SLOTS.index(name)] = b.add_quantity(
                    f"{prefix}.{table_name}.{name}", quantity, record_type, name
                )
        for gid, effect in programme.staff.items():
            g = group_position[gid]
            for slot, name in enumerate(M.PAIR_INPUTS):
                pg_idx[p, g, slot] = b.add_quantity(
                    f"{prefix}.staff.{gid}.{name}", getattr(effect, name), StaffEffect, name
                )

    real = scenario.real_terms_factors()
    planned_spend = np.array([programme.spend.values for _, programme in programmes], dtype=float) * real
    budget_change = scenario.budget_change_table() * real
    last_funded = np.array(
        [np.flatnonzero(np.asarray(programme.spend.values) > 0)[-1] for _, programme in programmes],
        dtype=np.int64,
    )
    discount_factor = scenario.discount_factors(n_year)
    longest = max((int(p.residual_life.distribution.mean()) for _, p in programmes), default=0)
    after = scenario.discount_factors(n_year + longest)[n_year:]
    residual_annuity = np.array(
        [after[: int(p.residual_life.distribution.mean())].sum() for _, p in programmes], dtype=float
    )

    segments = build_segments(scenario.population)
    inclusion_mask = np.ones((len(programmes), segments.contact_weight.size))
    for p, (_, programme) in enumerate(programmes):
        inclusion = programme.inclusion
        if inclusion is None or scenario.population is None:
            continue
        ages = inclusion.target_age_bands or segments.age_bands
        quintiles = inclusion.target_quintiles or segments.quintiles
        in_age = np.isin(np.asarray(segments.age_bands)[segments.age], ages)
        in_quintile = np.isin(np.asarray(segments.quintiles)[segments.quintile], quintiles)
        inclusion_mask[p] = (in_age & in_quintile).astype(float)

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
        budget_change=budget_change,
        last_funded=last_funded,
        discount_factor=discount_factor,
        residual_annuity=residual_annuity,
        segment_weight=segments.contact_weight,
        segment_quintile=segments.quintile,
        segment_age=segments.age,
        exclusion_table=segments.exclusion_table,
        inclusion_mask=inclusion_mask,
        distributional_uplift=segments.distributional_uplift,
        segments=segments,
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
