/* policy/route.c - stub, being written */
