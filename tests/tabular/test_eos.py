"""Equation-of-state fits against the ACWF all-electron reference fits, and EMT."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matml.errors import InputError
from matml.tabular.eos import (
    EV_PER_A3_TO_GPA,
    birch_murnaghan,
    fit_birch_murnaghan,
    fit_polynomial,
)
from matml.tabular.eos_report import run_eos


@pytest.fixture(scope="module")
def acwf(shared_dir):
    path = shared_dir / "data" / "eos" / "acwf_unaries_pbe_wien2k_eos.csv"
    if not path.exists():
        pytest.skip(f"ACWF data not found at {path}")
    return path


@pytest.mark.parametrize("system", ["Cu-X/FCC", "Al-X/FCC", "Si-X/Diamond", "W-X/BCC"])
def test_birch_murnaghan_matches_reference(acwf, system):
    g = pd.read_csv(acwf).query("system == @system")
    assert len(g) == 7
    fit = fit_birch_murnaghan(g.volume_A3, g.energy_eV)
    ref = g.iloc[0]
    assert fit.b0_gpa == pytest.approx(ref.fit_B0_GPa, rel=0.01)
    # in fact it is the same least-squares problem: agreement to 1e-5
    assert fit.b0_gpa == pytest.approx(ref.fit_B0_GPa, rel=1e-5)
    assert fit.v0 == pytest.approx(ref.fit_V0_A3, rel=1e-6)
    assert fit.b1 == pytest.approx(ref.fit_B1, rel=1e-4)
    assert fit.bracketed


def test_polynomials_close_to_birch_murnaghan(acwf):
    g = pd.read_csv(acwf).query("system == 'Cu-X/FCC'")
    bm = fit_birch_murnaghan(g.volume_A3, g.energy_eV)
    for degree in (2, 3, 4):
        fit = fit_polynomial(g.volume_A3, g.energy_eV, degree)
        assert fit.v0 == pytest.approx(bm.v0, rel=0.01)
        assert fit.b0_gpa == pytest.approx(bm.b0_gpa, rel=0.02)


def test_synthetic_birch_murnaghan_recovered():
    v = np.linspace(15, 19, 9)
    e = birch_murnaghan(v, -100.0, 16.5, 80 / EV_PER_A3_TO_GPA, 4.2)
    fit = fit_birch_murnaghan(v, e)
    assert (fit.v0, fit.b0_gpa, fit.b1) == pytest.approx((16.5, 80.0, 4.2), rel=1e-8)


def test_bad_eos_input():
    with pytest.raises(InputError, match="at least 5 distinct volumes"):
        fit_birch_murnaghan([1.0, 2.0, 3.0], [0.0, -1.0, 0.0])
    with pytest.raises(InputError, match="finite"):
        fit_polynomial([1.0, 2.0, np.nan], [0.0, -1.0, 0.0], 2)
    with pytest.raises(InputError, match="no minimum"):
        fit_polynomial([1.0, 2.0, 3.0], [0.0, 1.0, 0.0], 2)


def test_eos_command_on_table(acwf, tmp_path):
    lines = []
    res = run_eos(acwf, tmp_path, system="W-X/BCC", echo=lines.append)
    report = (tmp_path / "report.md").read_text()
    b0 = res["W-X/BCC"]["fits"][-1]["b0_gpa"]
    assert f"{b0:.4g}" in lines[0] and f"{b0:.4g}" in report
    assert (tmp_path / "eos_W_X_BCC.png").exists() and (tmp_path / "run.json").exists()


def test_eos_command_emt(tmp_path):
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.io import write

    write(tmp_path / "cu.cif", bulk("Cu", "fcc", a=3.6))
    res = run_eos(
        tmp_path / "cu.cif", tmp_path / "out", calculator=EMT(), echo=lambda s: None
    )
    (fit,) = [f for f in res["0:Cu"]["fits"] if f["kind"] == "birch-murnaghan"]
    # ASE's EMT copper: a0 = 3.59 Å (V0 = 11.57 Å^3), B0 = 134 GPa
    assert fit["v0"] == pytest.approx(11.57, abs=0.02)
    assert fit["b0_gpa"] == pytest.approx(134.4, rel=0.01)


def test_eos_with_a_saved_matml_model_as_calculator(tmp_path):
    """A saved model (the analytic Lennard-Jones one) gives the same E(V) as ASE's."""
    import jax.numpy as jnp
    from ase.build import bulk
    from ase.calculators.lj import LennardJones

    from matml.cli.eos import build_calculator
    from matml.potential import Potential, save
    from matml.tabular.eos import energies_from_calculator

    eps, sig, rc = 0.0104, 3.4, 8.0
    model = Potential(
        "lj", ["Ar"], rc, {"epsilon": eps, "sigma": sig}, dtype=jnp.float64
    )
    path = save(model, tmp_path / "lj.matml")
    argon = bulk("Ar", "fcc", a=5.26)
    v1, e1 = energies_from_calculator(argon, build_calculator(str(path)))
    v2, e2 = energies_from_calculator(
        argon, LennardJones(epsilon=eps, sigma=sig, rc=rc, smooth=False)
    )
    np.testing.assert_allclose(v1, v2)
    np.testing.assert_allclose(e1, e2, rtol=1e-9, atol=1e-12)
    assert np.ptp(e1) > 1e-3


def test_eos_takes_any_ase_calculator(tmp_path):
    """A calculator object goes in as it is: ASE's Lennard-Jones, named in the report."""
    from ase.build import bulk
    from ase.calculators.lj import LennardJones
    from ase.io import write

    write(tmp_path / "ar.cif", bulk("Ar", "fcc", a=5.26))
    calc = LennardJones(epsilon=0.0104, sigma=3.4, rc=8.0)
    res = run_eos(
        tmp_path / "ar.cif",
        tmp_path / "out",
        calculator=calc,
        calculator_name="ASE LJ",
        echo=lambda s: None,
    )
    (fit,) = [f for f in res["0:Ar"]["fits"] if f["kind"] == "birch-murnaghan"]
    # the LJ fcc minimum: a0 = 2^(2/3) sigma (1.09...) near 5.2-5.3 Å, V0 = a0^3 / 4
    assert 33.0 < fit["v0"] < 40.0 and fit["bracketed"]
    assert "structures + ASE LJ" in (tmp_path / "out" / "report.md").read_text()


def test_tabular_eos_imports_no_application_layer():
    import subprocess
    import sys

    code = (
        "import sys, matml.tabular.eos, matml.tabular.eos_report; "
        "bad = [m for m in sys.modules if m.startswith("
        "('matml.calculator', 'matml.potential', 'matml.cli', 'matml.train'))]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _one_line(err) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


def test_eos_errors_name_file_and_entry(tmp_path):
    """Bad structures: the message names the file and the structure, not a formula."""
    from ase.build import bulk
    from ase.calculators.lj import LennardJones
    from ase.io import write

    write(tmp_path / "u.cif", bulk("U", "fcc", a=4.0))
    with pytest.raises(InputError) as err:  # EMT has no uranium
        run_eos(tmp_path / "u.cif", tmp_path / "o", echo=lambda s: None)
    assert _one_line(err).startswith(f"{tmp_path / 'u.cif'}: entry 0: ")
    assert "calculator failed on U (NotImplementedError" in str(err.value)

    write(tmp_path / "two.xyz", [bulk("Cu", "fcc", a=3.6), bulk("Cu", "fcc", a=3.6)])
    with pytest.raises(InputError) as err:
        run_eos(tmp_path / "two.xyz", tmp_path / "o", points=3, echo=lambda s: None)
    assert _one_line(err) == (
        f"{tmp_path / 'two.xyz'}: entry 0: field points: "
        "EOS needs at least 5 points, got 3"
    )

    (tmp_path / "junk.cif").write_text("not a structure\n")
    with pytest.raises(InputError) as err:
        run_eos(tmp_path / "junk.cif", tmp_path / "o", echo=lambda s: None)
    assert _one_line(err).startswith(f"{tmp_path / 'junk.cif'}: cannot read")

    csv = tmp_path / "curve.csv"
    pd.DataFrame({"volume": [1.0, 2.0, 3.0], "energy": [0.0, -1.0, 0.0]}).to_csv(
        csv, index=False
    )
    with pytest.raises(InputError) as err:
        run_eos(csv, tmp_path / "o", degrees=(1,), echo=lambda s: None)
    assert _one_line(err) == (
        f"{csv}: entry curve: field degree: polynomial degree must be at least 2, got 1"
    )
    with pytest.raises(InputError) as err:
        run_eos(
            tmp_path / "u.cif",
            tmp_path / "o",
            calculator=LennardJones(),
            strain=1.5,
            echo=lambda s: None,
        )
    assert _one_line(err) == (
        f"{tmp_path / 'u.cif'}: entry 0: field strain: "
        "volume strain must be between 0 and 1, got 1.5"
    )
    with pytest.raises(TypeError, match="ASE calculator object"):
        run_eos(tmp_path / "u.cif", tmp_path / "o", calculator="emt")


def test_eos_with_a_matml_model_names_the_structure_file(tmp_path):
    """The calculator's own errors ("atoms Au: ...") come out naming file and entry."""
    from ase.build import bulk
    from ase.io import write

    from matml.cli.eos import build_calculator
    from matml.potential import Potential, save

    model = Potential("lj", ["Ar"], 8.0, {"epsilon": 0.0104, "sigma": 3.4})
    path = save(model, tmp_path / "lj.matml")
    write(tmp_path / "au.cif", bulk("Au", "fcc", a=4.08))
    with pytest.raises(InputError) as err:
        run_eos(
            tmp_path / "au.cif",
            tmp_path / "o",
            calculator=build_calculator(str(path)),
            echo=lambda s: None,
        )
    text = _one_line(err)
    assert text.startswith(f"{tmp_path / 'au.cif'}: entry 0: field numbers: ")
    assert "atoms Au" not in text and "not among the model's species Ar" in text


def test_eos_validates_like_every_command(tmp_path):
    """Two atoms 0.01 Å apart: eos refuses the file as train and describe do."""
    from ase import Atoms
    from ase.io import write

    from matml.errors import InputError
    from matml.tabular.eos_report import eos_curves_from_structures

    bad = Atoms("Cu2", positions=[[0, 0, 0], [0.01, 0, 0]], cell=[4, 4, 4], pbc=True)
    path = tmp_path / "close.xyz"
    write(path, bad)
    with pytest.raises(
        InputError, match=r"close\.xyz: entry 0: field positions: .*0\.01"
    ):
        eos_curves_from_structures(path)
