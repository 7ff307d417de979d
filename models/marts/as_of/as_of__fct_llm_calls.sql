-- fct_llm_calls as known at the evaluation time (see macro calls_as_of).

{{ calls_as_of(ref('fct_llm_calls')) }}
