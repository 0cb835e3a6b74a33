/* policy/config.c - stub, being written */
