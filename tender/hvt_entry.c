/*
 * hvt_entry.c - main() of uf-hvt.  The tender itself is hvt_main()
 * (hvt_main.c), which `unifaas run` also calls: the CLI's front links the
 * tender in, so running an image costs no second exec (cli/front.c).
 * Kept apart so that the unit tests and fuzzers, which link the tender's
 * files with their own main(), need no renaming trick.
 */
#include "hvt.h"

int main(int argc, char **argv)
{
	return hvt_main(argc, argv);
}
