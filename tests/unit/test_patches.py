"""The library patches: each is for the release it was written for, and nothing is patched until
a process asks for it."""
import subprocess
import sys

import secantus

from nszm import patches
from ops import secantusd, wiredtiger_packing
from tests.conftest import ROOT


def test_every_patched_library_is_the_release_its_patch_was_written_for():
    """When this fails, a library was upgraded: check its patch against the new release, then move the pin."""
    assert patches.installed_releases() == patches.WRITTEN_FOR
    assert secantus.__version__ == secantusd.CACHED_CATALOG_RELEASE
    assert wiredtiger_packing.release() == wiredtiger_packing.WRITTEN_FOR


def test_importing_the_platform_patches_nothing_until_install_is_called():
    script = ("import nameko.amqp.publish as publish; original = publish.get_producer; "
              "import gateway.rpc, nszm.service, services.notify.service, nszm.patches as patches; "
              "assert publish.get_producer is original, 'patched on import'; patches.install(); "
              "assert publish.get_producer is patches.producers.get_producer; print('ok')")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]
