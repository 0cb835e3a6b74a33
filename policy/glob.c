/* policy/glob.c - stub, being written */
