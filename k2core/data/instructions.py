"""Answer-format instructions appended to prompts, one per answer shape, so graders know what to expect."""

BOXED = "Please reason step by step, and put your final answer within \\boxed{}."
CHOICE = "Please reason step by step, and put the letter of the correct option (A, B, C or D) within \\boxed{}."
CODE = (
    "Complete the following Python function. Reply with the complete function, including its signature "
    "and any imports it needs, in a single ```python code block."
)
OUTPUT = "Reason step by step, then give the exact printed output inside a fenced block that starts with ```output."
