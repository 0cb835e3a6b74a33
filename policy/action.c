/* policy/action.c - stub, being written */
