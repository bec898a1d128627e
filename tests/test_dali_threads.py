"""DALI's host threads: a GPU shard pipeline decodes `mixed`, whose parsing and Huffman stage run
on the host, so it gets at least DALI_GPU_THREADS threads within this rank's share of the CPUs."""

from synpat.train.loaders import DALI_GPU_THREADS, dali_threads


def test_a_gpu_pipeline_gets_host_threads_for_mixed_decoding_within_its_share_of_the_cpus():
    assert dali_threads(2, on_gpu=False, cpus=16) == 2  # CPU decoding: the workers asked for
    assert dali_threads(0, on_gpu=False, cpus=16) == 1
    assert dali_threads(2, on_gpu=True, cpus=16) == DALI_GPU_THREADS == 8
    assert dali_threads(2, on_gpu=True, cpus=16, ranks_per_node=8) == 2  # 8 ranks share 16 CPUs
    assert dali_threads(2, on_gpu=True, cpus=24, ranks_per_node=8) == 3
    assert dali_threads(12, on_gpu=True, cpus=16) == 12  # more asked for: as asked
    assert dali_threads(0, on_gpu=True, cpus=1) == 1
