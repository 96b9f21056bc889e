"""motionlab.pipeline.sample_sets: sets of any N in chunks of 64 (chunk 0 is plain sampling at the seed),
cached per checkpoint version, sampler, seed, size and precision."""
import numpy as np
import pytest

from motionlab.core.samplers import DEFAULT_SAMPLER, SamplerChoice
from motionlab.errors import MotionlabError
from motionlab.formats.checkpoints import load_model
from motionlab.pipeline.sample_sets import chunk_seed, sample_set
from motionlab.pipeline.sampling import sample_checkpoint


def test_chunks_extend_plain_sampling_and_the_cache_gives_them_back(tiny_checkpoint, tmp_path):
    lm = load_model(tiny_checkpoint)
    s = sample_set(lm, 70, 5, DEFAULT_SAMPLER, cache=tmp_path, threads=1)
    assert s.pixels.shape[0] == 70 and s.cached == 0 and s.sampler == "ddpm-10"
    plain = sample_checkpoint(lm, 64, 5, sampler=DEFAULT_SAMPLER, precision="fp32", threads=1).pixels
    np.testing.assert_allclose(s.pixels[:64], plain, rtol=0, atol=1e-5)   # chunk 0: today's sampling
    tail = sample_checkpoint(lm, 6, chunk_seed(5, 1), sampler=DEFAULT_SAMPLER, precision="fp32", threads=1).pixels
    np.testing.assert_allclose(s.pixels[64:], tail, rtol=0, atol=1e-5)
    again = sample_set(lm, 70, 5, DEFAULT_SAMPLER, cache=tmp_path, threads=1)
    assert again.cached == 2 and again.seconds == 0 and np.array_equal(again.pixels, s.pixels)
    other = sample_set(lm, 70, 5, SamplerChoice("ddim", 5), cache=tmp_path, threads=1)
    assert other.cached == 0 and not np.array_equal(other.pixels, s.pixels)
    assert sample_set(lm, 3, 5, DEFAULT_SAMPLER, precision="auto", cache=tmp_path).cached == 0  # never filed
    chunks = []
    sample_set(lm, 130, 5, DEFAULT_SAMPLER, cache=None, threads=1, on_chunk=lambda k, n: chunks.append((k, n)))
    assert chunks == [(0, 3), (1, 3), (2, 3)]


def test_sizes_are_bounded(tiny_checkpoint):
    lm = load_model(tiny_checkpoint)
    for n in (0, 5000):
        with pytest.raises(MotionlabError, match="holds 1..4096 samples"):
            sample_set(lm, n, 1, DEFAULT_SAMPLER, cache=None)
    assert chunk_seed(9, 0) == 9 and chunk_seed(9, 1) != chunk_seed(9, 2)
