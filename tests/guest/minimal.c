/* minimal.c - a valid image that prints one line and exits 0 (tests/integration/errors.sh). */
#include <stdio.h>

int main(void)
{
	printf("minimal ok\n");
	return 0;
}
