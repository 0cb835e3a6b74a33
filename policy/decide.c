/* policy/decide.c - stub, being written */
