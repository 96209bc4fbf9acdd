"""The checks the notebooks' test cells call, one function per behaviour.

Each check takes the student's function, tests type, then shape, then values against an
independent NumPy computation, returns None when everything holds and raises AssertionError
with a message naming what was expected, what was found and the likely mistake.
"""
from grader.checks._common import CheckFailed
from grader.checks.bugs import (
    dcgan_any_batch_size,
    dcgan_batch_norm_updates,
    dcgan_fake_labels,
    dcgan_layers_chained,
    dcgan_output_size,
    dcgan_variable_lists,
)
from grader.checks.convolutional import (
    conv_discriminator_dropout,
    conv_discriminator_forward,
    conv_discriminator_outputs,
    conv_discriminator_reuse,
    conv_discriminator_variables,
    conv_generator_batch_norm_updates,
    conv_generator_forward,
    conv_generator_output,
    conv_generator_reuse,
    conv_generator_training_modes,
    conv_generator_variables,
    conv_model_opt_batch_norm_updates,
)
from grader.checks.drawn import hidden_inputs
from grader.checks.inputs import model_inputs_dimensions, model_inputs_types
from grader.checks.losses import generator_loss_gradient, model_loss_scalars, model_loss_stability, model_loss_values
from grader.checks.networks import (
    discriminator_forward,
    discriminator_hidden_layers,
    discriminator_outputs,
    discriminator_probability_range,
    discriminator_reuse,
    discriminator_variables,
    generator_forward,
    generator_hidden_layers,
    generator_output,
    generator_output_range,
    generator_reuse,
    generator_variables,
)
from grader.checks.optimizers import model_opt_adam_steps, model_opt_returns, model_opt_var_lists
from grader.checks.theory import (
    bilinear_alternating_step,
    bilinear_long_run,
    bilinear_simultaneous_step,
    generator_loss_gradients_values,
    generator_loss_gradients_vanish,
    js_divergence_and_value,
    js_divergence_values,
    multiple_choice,
    numeric_answer,
    optimal_discriminator_at_equilibrium,
    optimal_discriminator_values,
    training_step_feeds,
    training_step_in_tensorflow,
    training_step_order,
    value_function_stability,
    value_function_values,
)

# Every check a test cell may call, in the order the course teaches them (by name).
ALL = tuple(check.__name__ for check in (
    model_inputs_types, model_inputs_dimensions,
    generator_output, generator_output_range, generator_variables, generator_reuse, generator_forward,
    generator_hidden_layers,
    discriminator_outputs, discriminator_probability_range, discriminator_variables, discriminator_reuse,
    discriminator_forward, discriminator_hidden_layers,
    model_loss_scalars, model_loss_values, model_loss_stability, generator_loss_gradient,
    model_opt_returns, model_opt_var_lists, model_opt_adam_steps,
    value_function_values, value_function_stability,
    optimal_discriminator_values, optimal_discriminator_at_equilibrium,
    js_divergence_values, js_divergence_and_value,
    generator_loss_gradients_values, generator_loss_gradients_vanish,
    bilinear_simultaneous_step, bilinear_alternating_step, bilinear_long_run,
    training_step_order, training_step_feeds, training_step_in_tensorflow,
    multiple_choice, numeric_answer,
    conv_generator_output, conv_generator_variables, conv_generator_reuse, conv_generator_training_modes,
    conv_generator_batch_norm_updates, conv_generator_forward,
    conv_discriminator_outputs, conv_discriminator_variables, conv_discriminator_reuse, conv_discriminator_dropout,
    conv_discriminator_forward, conv_model_opt_batch_norm_updates,
    dcgan_output_size, dcgan_layers_chained, dcgan_any_batch_size, dcgan_fake_labels, dcgan_variable_lists,
    dcgan_batch_norm_updates,
))

__all__ = ["CheckFailed", "ALL", "hidden_inputs", *ALL]
