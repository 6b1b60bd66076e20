# -*- coding: utf-8 -*-
# Copyright: (c) 2026, agentfleet.nemoclaw contributors
# Apache License 2.0 (see LICENSE)
"""The execution environment definition: `ansible-builder create` makes a complete build context.

Building the image needs a container engine; creating its context does not. The test copies
execution-environment.yml and the requirement files it names into a temporary directory, builds
the collection tarball there (what `make build` writes to dist/), runs `ansible-builder create`
and checks the context: the Containerfile and its stages, the collection tarball, the galaxy,
Python and system requirement files. Then it installs the tarball and runs ansible-builder's own
introspection script from the context over it, as the image build does, to show that the
collection's meta/execution-environment.yml declares meta/ee-requirements.txt and bindep.txt.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def tool(name):
    path = os.path.join(BIN, name)
    return path if os.path.exists(path) else shutil.which(name)


def load(path):
    with open(os.path.join(ROOT, path)) as fh:
        return yaml.safe_load(fh)


def requirement_lines(path):
    with open(path) as fh:
        return [line.strip() for line in fh if line.strip() and not line.lstrip().startswith("#")]


@pytest.fixture(scope="module")
def version():
    return load("galaxy.yml")["version"]


@pytest.fixture(scope="module")
def context(tmp_path_factory, version):
    """(ee dir, context dir) after `ansible-builder create` on a copy of the definition."""
    assert tool("ansible-builder") and tool("ansible-galaxy"), "ansible-builder / ansible-galaxy not installed (make setup)"
    base = tmp_path_factory.mktemp("ee")
    ee = base / "ee"
    (ee / "meta").mkdir(parents=True)
    for name in ("execution-environment.yml", "bindep.txt", "meta/ee-requirements.txt", "meta/execution-environment.yml"):
        shutil.copy(os.path.join(ROOT, name), str(ee / name))
    subprocess.run([tool("ansible-galaxy"), "collection", "build", "--force", "--output-path", str(ee / "dist"), ROOT],
                   check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert (ee / "dist" / ("agentfleet-nemoclaw-%s.tar.gz" % version)).is_file()
    ctx = base / "context"
    res = subprocess.run([tool("ansible-builder"), "create", "-f", "execution-environment.yml", "-c", str(ctx),
                          "--output-filename", "Containerfile"],
                         cwd=str(ee), check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert res.returncode == 0, res.stdout
    return ee, ctx


def test_definition_is_builder_v3_and_names_the_collection_version(version):
    ee = load("execution-environment.yml")
    assert ee["version"] == 3
    deps = ee["dependencies"]
    assert deps["python"] == "meta/ee-requirements.txt" and deps["system"] == "bindep.txt"
    assert deps["ansible_core"]["package_pip"].startswith("ansible-core==")
    tarball = "agentfleet-nemoclaw-%s.tar.gz" % version
    assert deps["galaxy"]["collections"] == [{"name": "collections/" + tarball, "type": "file"}]
    assert ee["additional_build_files"] == [{"src": "dist/" + tarball, "dest": "collections"}]
    # The pins of the EE follow the toolchain the collection is tested with.
    pins = dict(line.split("==") for line in requirement_lines(os.path.join(ROOT, "requirements.txt")) if "==" in line)
    assert deps["ansible_core"]["package_pip"] == "ansible-core==" + pins["ansible-core"]
    assert deps["ansible_runner"]["package_pip"] == "ansible-runner==" + pins["ansible-runner"]


def test_collection_metadata_declares_its_requirements():
    meta = load("meta/execution-environment.yml")
    assert meta["version"] == 1
    assert meta["dependencies"] == {"python": "meta/ee-requirements.txt", "system": "bindep.txt"}
    assert any(line.lower().startswith("pyyaml") for line in requirement_lines(os.path.join(ROOT, "meta/ee-requirements.txt")))
    bindep = requirement_lines(os.path.join(ROOT, "bindep.txt"))
    assert "openssh-clients [platform:rpm]" in bindep and "openssh-client [platform:dpkg]" in bindep


def test_create_writes_a_complete_build_context(context, version):
    _ee, ctx = context
    containerfile = (ctx / "Containerfile").read_text()
    for stage in ("AS base", "AS galaxy", "AS builder", "AS final"):
        assert stage in containerfile
    assert 'ARG EE_BASE_IMAGE="quay.io/centos/centos:stream10"' in containerfile
    assert "ansible-galaxy collection install" in containerfile and "-r requirements.yml" in containerfile
    assert "introspect" in containerfile
    build = ctx / "_build"
    tarball = build / "collections" / ("agentfleet-nemoclaw-%s.tar.gz" % version)
    assert tarball.is_file() and tarball.stat().st_size > 10000
    galaxy = yaml.safe_load((build / "requirements.yml").read_text())
    assert galaxy == {"collections": [{"name": "collections/" + tarball.name, "type": "file"}]}
    assert requirement_lines(str(build / "requirements.txt")) == requirement_lines(os.path.join(ROOT, "meta/ee-requirements.txt"))
    assert requirement_lines(str(build / "bindep.txt")) == requirement_lines(os.path.join(ROOT, "bindep.txt"))
    assert (build / "scripts" / "introspect.py").is_file()


def test_the_built_collection_carries_its_ee_metadata(context, version, tmp_path):
    """Install the tarball of the context and introspect it as the image build does."""
    _ee, ctx = context
    tarball = ctx / "_build" / "collections" / ("agentfleet-nemoclaw-%s.tar.gz" % version)
    collections = tmp_path / "collections"
    res = subprocess.run([tool("ansible-galaxy"), "collection", "install", "--offline", "--force", "-p", str(collections),
                          str(tarball)], check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert res.returncode == 0, res.stdout
    installed = collections / "ansible_collections" / "agentfleet" / "nemoclaw"
    for name in ("meta/execution-environment.yml", "meta/ee-requirements.txt", "bindep.txt", "meta/runtime.yml"):
        assert (installed / name).is_file(), name
    res = subprocess.run([sys.executable, str(ctx / "_build" / "scripts" / "introspect.py"), "introspect",
                          str(collections)], check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert res.returncode == 0, res.stdout
    data = yaml.safe_load(res.stdout[res.stdout.index("---"):])
    assert "openssh-clients [platform:rpm]  # from collection agentfleet.nemoclaw" in data["system"], res.stdout
    assert "openssh-client [platform:dpkg]  # from collection agentfleet.nemoclaw" in data["system"], res.stdout
    # meta/ee-requirements.txt names PyYAML only, which ansible-builder drops on purpose (ansible-core
    # already brings it): nothing else may appear.
    assert data["python"] == [], res.stdout
