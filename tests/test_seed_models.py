import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from autorouter.models import ModelProfile, RouterConfig
from models_registry.audit.history import versions_of
from models_registry.audit.models import ChangeRecord
from models_registry.catalog.conversions import config_from_model
from models_registry.models import AIModel, Provider

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_seed_creates_58_then_skips_58(capsys):
    call_command("seed_models")
    assert "created 58, skipped 0, errors 0" in capsys.readouterr().out
    call_command("seed_models")
    assert "created 0, skipped 58, errors 0" in capsys.readouterr().out

    assert AIModel.objects.count() == 58
    assert AIModel.history.count() == 58
    assert Provider.objects.count() == 12


@pytest.mark.django_db
def test_seed_history_is_version_1_by_system_with_the_seed_reason():
    call_command("seed_models")
    (version,) = versions_of(AIModel.objects.get(model_id="anthropic:claude-opus-4.5"))
    assert version.number == 1
    assert version.change_type == "created"
    assert (version.changed_by, version.user_id) == ("system", None)
    assert version.reason == "Initial seed from static catalog"
    assert AIModel.objects.get(model_id="anthropic:claude-opus-4.5").version == 1


@pytest.mark.django_db
def test_dry_run_leaves_an_empty_database_empty(capsys):
    call_command("seed_models", "--dry-run")
    out = capsys.readouterr().out
    assert "would create openai:gpt-5" in out
    assert "would create 58" in out
    assert AIModel.objects.count() == 0
    assert Provider.objects.count() == 0
    assert AIModel.history.count() == 0


@pytest.mark.django_db
def test_seed_never_overwrites_an_existing_model(seeded):
    AIModel.objects.filter(model_id="openai:gpt-5").update(name="Edited by an admin")
    call_command("seed_models")
    assert AIModel.objects.get(model_id="openai:gpt-5").name == "Edited by an admin"


@pytest.mark.django_db
def test_seeded_rows_read_back_equal_to_the_static_catalog(seeded, static_catalog):
    rows = AIModel.objects.select_related("provider")
    from_db = {row.model_id: config_from_model(row) for row in rows}
    assert from_db == static_catalog.by_id()


@pytest.mark.django_db
def test_invalid_catalog_file_fails_and_writes_nothing(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"providers": [], "models": [{"id": "x:y"}]}))
    with pytest.raises(CommandError, match="x:y"):
        call_command("seed_models", "--file", str(path))
    assert AIModel.objects.count() == 0


@pytest.mark.django_db
def test_a_row_rejected_by_the_database_rolls_back_the_whole_seed(tmp_path, capsys):
    # Valid for the loader, refused by the model: the id is longer than the column.
    long_id = "acme:" + "x" * 200
    document = {
        "providers": [{"slug": "acme", "name": "Acme"}],
        "models": [
            {
                "id": "acme:ok",
                "provider": "acme",
                "name": "OK",
                "context_window": 10,
                "pricing": {"input": "1", "output": "1"},
            },
            {
                "id": long_id,
                "provider": "acme",
                "name": "Too long",
                "context_window": 10,
                "pricing": {"input": "1", "output": "1"},
            },
        ],
    }
    path = tmp_path / "partly-bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(CommandError, match="nothing was written"):
        call_command("seed_models", "--file", str(path))
    captured = capsys.readouterr()
    assert "errors 1" in captured.out
    assert long_id in captured.err
    assert AIModel.objects.count() == 0
    assert Provider.objects.count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="parallel deploys run on a database server")
def test_parallel_deploys_seeding_at_once_all_end_cleanly():
    db = connection.settings_dict
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}@{host}/{db['NAME']}"}
    env.pop("SECRET_KEY", None)  # one-off commands run without one
    steps = ("seed_models", "seed_autorouter", "seed_model_profiles")
    deploy = " && ".join(f"{sys.executable} manage.py {step}" for step in steps)
    processes = [
        subprocess.Popen(["bash", "-c", deploy], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]  # fmt: skip
    outcomes = [(process.wait(timeout=180), process.stderr.read()) for process in processes]
    assert [code for code, _ in outcomes] == [0, 0, 0], [err[-1500:] for _, err in outcomes]
    assert all("Traceback" not in err for _, err in outcomes)
    assert AIModel.objects.count() == 58
    assert RouterConfig.objects.count() == 1 and ModelProfile.objects.count() == 55
    assert ChangeRecord.objects.filter(content_type__model="aimodel").count() == 58  # each created once
