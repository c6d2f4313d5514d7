"""Theory of noisy binarized networks: what noise allows (ceilings) and what it does (prediction).

* :mod:`~noisybnn.theory.channels`: binary symmetric channel (entropy, capacity, contraction).
* :mod:`~noisybnn.theory.bounds`: SDPI / percolation, Evans-Schulman, capacity and Fano ceilings on
  information and accuracy, and their inverses (least width, depth-width trade-off).
* :mod:`~noisybnn.theory.propagation`: mean-field flip rates and accuracy prediction for a trained
  network, Semenova-style noise gains.
* :mod:`~noisybnn.theory.correlated`: analytic mean field carrying pairwise flip covariances,
  with a Gaussian readout (no Monte Carlo).
* :mod:`~noisybnn.theory.faults`: Forward Error Propagation bound and sound robustness
  certificates for stuck-at neurons.
* :mod:`~noisybnn.theory.geometry`: angle between a vector and its sign (Anderson & Berg).
* :mod:`~noisybnn.theory.exact`: exact enumeration of tiny networks (the reference for the tests).
* :mod:`~noisybnn.theory.network`: the numpy network model all of the above work on.

Derivations, assumptions and measured tightness: ``docs/theory.md``.
"""

from noisybnn.theory.bounds import (
    TradeoffCurve,
    accuracy_ceiling,
    capacity_bound,
    contracted_capacity_bound,
    empirical_label_entropy,
    evans_schulman_ceiling,
    fano_accuracy_ceiling,
    fano_min_info,
    info_ceiling,
    min_total_neurons,
    min_width,
    path_sum_factor,
    percolation_factor,
    tradeoff_curve,
    uniform_accuracy_ceiling,
    uniform_info_ceiling,
)
from noisybnn.theory.channels import (
    binary_entropy,
    bsc_capacity,
    bsc_contraction,
    cascade_bsc,
    dobrushin_coefficient,
    node_erasure_probability,
)
from noisybnn.theory.exact import exact_label_joints, map_accuracy, mutual_information
from noisybnn.theory.faults import (
    certified_robust,
    certified_robust_fraction,
    certified_robust_placed,
    fep_bound,
    fep_layer_bounds,
    fep_robust_fraction,
    hardtanh_forward,
)
from noisybnn.theory.geometry import (
    ASYMPTOTIC_SIGN_ANGLE_DEG,
    activation_angles,
    binarization_angles,
    dot_product_correlation,
    expected_sign_angle,
    expected_sign_cosine,
    sign_angle,
)
from noisybnn.theory.network import (
    BinaryLayer,
    ForwardResult,
    Network,
    NoisySimulation,
    Readout,
    as_network,
    forward,
    load_mlp_checkpoint,
    simulate_noisy,
)
from noisybnn.theory.propagation import (
    flip_gain,
    mean_field_flip_rates,
    noise_gain,
    predict_accuracy,
    predict_correct_probability,
)

__all__ = [
    "ASYMPTOTIC_SIGN_ANGLE_DEG",
    "BinaryLayer",
    "ForwardResult",
    "Network",
    "NoisySimulation",
    "Readout",
    "TradeoffCurve",
    "accuracy_ceiling",
    "activation_angles",
    "as_network",
    "binarization_angles",
    "binary_entropy",
    "bsc_capacity",
    "bsc_contraction",
    "capacity_bound",
    "cascade_bsc",
    "certified_robust",
    "certified_robust_fraction",
    "certified_robust_placed",
    "contracted_capacity_bound",
    "dobrushin_coefficient",
    "dot_product_correlation",
    "empirical_label_entropy",
    "evans_schulman_ceiling",
    "exact_label_joints",
    "expected_sign_angle",
    "expected_sign_cosine",
    "fano_accuracy_ceiling",
    "fano_min_info",
    "fep_bound",
    "fep_layer_bounds",
    "fep_robust_fraction",
    "flip_gain",
    "forward",
    "hardtanh_forward",
    "info_ceiling",
    "load_mlp_checkpoint",
    "map_accuracy",
    "mean_field_flip_rates",
    "min_total_neurons",
    "min_width",
    "mutual_information",
    "node_erasure_probability",
    "noise_gain",
    "path_sum_factor",
    "percolation_factor",
    "predict_accuracy",
    "predict_correct_probability",
    "sign_angle",
    "simulate_noisy",
    "tradeoff_curve",
    "uniform_accuracy_ceiling",
    "uniform_info_ceiling",
]
